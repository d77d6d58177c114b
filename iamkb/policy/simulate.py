"""`iamkb simulate [--json] [--jsonl] FILE`: evaluate one scenario, a list, or JSON Lines, and print the decision(s).

FILE is a path or `-` for stdin; the scenario shape is DESIGN.md's. Three inputs, for batches of any size:
- one scenario (an object) -> one result;
- a JSON list -> a JSON list of results, in order. Every scenario is read and compiled before anything is
  printed, so bad input anywhere prints nothing but the error; then each result is written as it is decided
  (output byte-identical to dumping the whole list, without holding it). The list itself is held in memory;
- JSON Lines (`--jsonl`, implied by a `.jsonl` or `.ndjson` FILE): one scenario per line -> one result per line
  (blank lines are skipped). Lines are read, decided and written one at a time, so memory stays flat for a
  stream of any length; a bad line stops the run with its line number (exit 2), after the results of the lines
  before it, each a complete line.
There is no limit on the size of a batch; each policy document is limited to MAX_POLICY_BYTES (as compact JSON,
far above any AWS policy quota), checked only where the text holding it (a line, a list element, a file) is
larger than that. Figures for 10,000 scenarios: bench/README.md ("Batches").
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from iamkb.errors import InputError
from iamkb.policy.evaluate import CompiledScenario, Compiler, batch_allocation, decide
from iamkb.policy.explain import render
from iamkb.policy.grammar import MAX_DEPTH, MAX_TEXT_BYTES, text_depth_exceeded

MAX_POLICY_BYTES = MAX_TEXT_BYTES  # per policy document
LINES_SUFFIXES = (".jsonl", ".ndjson")
STREAM_CACHE = 1024  # policy documents a JSON Lines run remembers for sharing (Compiler's max_documents)
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="scenario JSON (one object or a list), or JSON Lines; - reads "
                                                     "stdin")
    parser.add_argument("--json", action="store_true", help="print JSON: one result, a list, or one result per line")
    parser.add_argument("--jsonl", action="store_true",
                        help="FILE is JSON Lines, one scenario per line; prints one result per line, streaming "
                             "(implied by a .jsonl or .ndjson FILE)")


def read_input(name: str) -> tuple[str, str]:
    """(text, where) for a path or '-'; a missing or unreadable file is bad input (exit 2)."""
    if name == "-":
        return sys.stdin.read(), "<stdin>"
    path = Path(name)
    try:
        return path.read_text(encoding="utf-8"), name
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err.strerror if isinstance(err, OSError) else err}", where=name) from None


# --- decoding ---------------------------------------------------------------------------------------------------
def _too_deep(text: str, where: str) -> InputError:
    """json gives up on nesting deeper than the interpreter's recursion limit: say where the text nests too deep."""
    line, col = text_depth_exceeded(text, MAX_DEPTH * 2) or (1, 1)
    return InputError(f"JSON nested deeper than {MAX_DEPTH * 2} levels at line {line}, column {col}", where=where)


def _malformed(err: json.JSONDecodeError, where: str) -> InputError:
    return InputError(f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}", where=where)


def utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def decode(text: str, where: str) -> tuple[Any, list[int] | None]:
    """JSON text -> (value, the UTF-8 length of each element's text when the value is a list, else None).

    A top-level list is read element by element (`raw_decode`, in C), so each scenario's own text length is known
    for the policy size check without measuring every policy; the value is what `json.loads` gives.
    """
    ascii_text = text.isascii()
    try:
        start = _WS.match(text).end()  # type: ignore[union-attr]
        if not text.startswith("[", start):
            value, end = _DECODER.raw_decode(text, start)
            if _WS.match(text, end).end() != len(text):  # type: ignore[union-attr]
                json.loads(text)  # the decoder's own message for trailing data
            return value, None
        items: list[Any] = []
        sizes: list[int] = []
        pos = _WS.match(text, start + 1).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            return items, sizes
        while True:
            item, end = _DECODER.raw_decode(text, pos)
            items.append(item)
            sizes.append(end - pos if ascii_text else utf8_length(text[pos:end]))
            pos = _WS.match(text, end).end()  # type: ignore[union-attr]
            if text.startswith(",", pos):
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            elif text.startswith("]", pos):
                if _WS.match(text, pos + 1).end() != len(text):  # type: ignore[union-attr]
                    json.loads(text)
                return items, sizes
            else:
                json.loads(text)  # "Expecting ',' delimiter" (or the first error before it), with its position
                raise InputError("malformed JSON: a list element is not followed by ',' or ']'", where=where)
    except json.JSONDecodeError as err:
        raise _malformed(err, where) from None
    except RecursionError:
        raise _too_deep(text, where) from None


# --- the policy size limit --------------------------------------------------------------------------------------
def scenario_policies(scenario: dict) -> Iterator[tuple[str, Any]]:
    """(path, document) of every policy a scenario holds, in DESIGN.md's keys."""
    for key in ("identityPolicies", "permissionBoundaries"):
        docs = scenario.get(key)
        for i, doc in enumerate(docs if isinstance(docs, list) else ()):
            yield f"{key}[{i}]", doc
    levels = scenario.get("serviceControlPolicies")
    for i, level in enumerate(levels if isinstance(levels, list) else ()):
        for j, doc in enumerate(level if isinstance(level, list) else ()):
            yield f"serviceControlPolicies[{i}][{j}]", doc
    for key in ("resourcePolicy", "sessionPolicy"):
        if key in scenario:
            yield key, scenario[key]


def check_policy_sizes(scenario: Any, text_bytes: int, dot: str = "") -> None:
    """Refuse a policy document over MAX_POLICY_BYTES (its compact JSON, in UTF-8). Measured only when the text
    holding the scenario is over the limit: a smaller text cannot hold a larger policy."""
    if text_bytes <= MAX_POLICY_BYTES or not isinstance(scenario, dict):
        return
    for path, doc in scenario_policies(scenario):
        try:
            size = len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
        except (RecursionError, ValueError):  # nested too deep to measure: the validator names where
            continue
        if size > MAX_POLICY_BYTES:
            raise InputError(f"{dot}{path}: the policy document is {size:,} bytes as compact JSON, over the "
                             f"{MAX_POLICY_BYTES:,}-byte limit for one policy (AWS's quotas are a few KB)")


# --- evaluation -------------------------------------------------------------------------------------------------
def _compiled(data: Any, sizes: list[int] | None, text: str, where: str) -> list[CompiledScenario] | CompiledScenario:
    """Every scenario checked and compiled (one Compiler: a policy shared by many scenarios compiles once)."""
    compiler = Compiler()
    try:
        if sizes is None:
            check_policy_sizes(data, utf8_length(text))
            return compiler.scenario(data)
        out = []
        for i, (scenario, size) in enumerate(zip(data, sizes, strict=True)):
            check_policy_sizes(scenario, size, f"[{i}].")
            out.append(compiler.scenario(scenario, f"[{i}]"))
        return out
    except InputError as err:
        raise InputError(str(err), where=where) from None


def simulate_text(text: str, where: str) -> list[dict] | dict:
    """Decode and evaluate; returns one result dict or a list, mirroring the input (the API and the browser)."""
    data, sizes = decode(text, where)
    compiled = _compiled(data, sizes, text, where)
    if isinstance(compiled, list):
        return [decide(c).to_json() for c in compiled]
    return decide(compiled).to_json()


def results_of_lines(lines: Iterable[bytes | str], where: str) -> Iterator[dict]:
    """One result per JSON line (blank lines skipped); a bad line raises InputError naming its line number.

    Each line is decoded, checked, compiled, decided and explained before the next is read; the Compiler shares
    the policy documents that recur across lines, up to STREAM_CACHE of them. Lines may be bytes (a file or stdin
    read in binary, so a line that is not UTF-8 is named by its number) or text."""
    compiler = Compiler(max_documents=STREAM_CACHE)
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"line {number}: not UTF-8 text ({err.reason} at byte {err.start + 1})",
                                 where=where) from None
            size = len(raw)
        else:
            line, size = raw, utf8_length(raw)
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            scenario = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"line {number}, column {err.pos + 1}: malformed JSON: {err.msg}", where=where) from None
        except RecursionError:
            raise InputError(f"line {number}: JSON nested deeper than the decoder allows", where=where) from None
        try:
            check_policy_sizes(scenario, size)
            result = decide(compiler.scenario(scenario)).to_json()
        except InputError as err:
            raise InputError(f"line {number}: {err}", where=where) from None
        yield result


def _open_lines(name: str) -> tuple[BinaryIO, str]:
    if name == "-":
        return sys.stdin.buffer, "<stdin>"
    try:
        return open(name, "rb"), name  # noqa: SIM115 (closed by run_simulate)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", where=name) from None


def _write_results(results: Iterable[dict], as_json: bool, lines: bool, out: TextIO) -> None:
    """Each result as soon as it is decided: a JSON line, an element of one JSON list, or text."""
    if lines:
        for result in results:
            out.write(json.dumps(result) if as_json else render(result) + "\n")
            out.write("\n")
        return
    first = True
    out.write("[" if as_json else "")
    for result in results:
        if as_json:
            out.write(("" if first else ", ") + json.dumps(result))
        else:
            out.write(("" if first else "\n\n") + render(result))
        first = False
    out.write("]\n" if as_json else "\n")


def _decided(compiled: list[CompiledScenario]) -> Iterator[dict]:
    for i, scenario in enumerate(compiled):
        compiled[i] = None  # type: ignore[call-overload]  # free each compiled scenario once it is written
        yield decide(scenario).to_json()


def run_simulate(args: argparse.Namespace) -> int:
    if args.jsonl or args.file.lower().endswith(LINES_SUFFIXES):
        stream, where = _open_lines(args.file)
        try:
            _write_results(results_of_lines(stream, where), args.json, True, sys.stdout)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        return 0
    text, where = read_input(args.file)
    data, sizes = decode(text, where)
    with batch_allocation():
        compiled = _compiled(data, sizes, text, where)
        del text, data
        if not isinstance(compiled, list):
            result = decide(compiled).to_json()
            if args.json:
                json.dump(result, sys.stdout, indent=2)
                sys.stdout.write("\n")
            else:
                print(render(result))
            return 0
        _write_results(_decided(compiled), args.json, False, sys.stdout)
    return 0

