"""`iamkb simulate [--json] FILE`: evaluate one scenario or a list (batch mode) and print the decision(s).

FILE is a path or `-` for stdin; the scenario shape is DESIGN.md's. A list is evaluated with one Compiler so a
policy object shared by many scenarios is compiled once, which is how tools and benchmarks use it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from iamkb.errors import InputError
from iamkb.policy.evaluate import Compiler, decide
from iamkb.policy.explain import render
from iamkb.policy.grammar import load_json_text


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="scenario JSON (one object or a list); - reads stdin")
    parser.add_argument("--json", action="store_true", help="print JSON: one result or a list")


def read_input(name: str) -> tuple[str, str]:
    """(text, where) for a path or '-'; a missing or unreadable file is bad input (exit 2)."""
    if name == "-":
        return sys.stdin.read(), "<stdin>"
    path = Path(name)
    try:
        return path.read_text(encoding="utf-8"), name
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err.strerror if isinstance(err, OSError) else err}", where=name) from None


def simulate_text(text: str, where: str) -> list[dict] | dict:
    """Decode and evaluate; returns one result dict or a list, mirroring the input."""
    data = load_json_text(text, where)
    compiler = Compiler()
    try:
        if isinstance(data, list):
            return [decide(compiler.scenario(s, f"[{i}]")).to_json() for i, s in enumerate(data)]
        return decide(compiler.scenario(data)).to_json()
    except InputError as err:
        raise InputError(str(err), where=where) from None


def run_simulate(args: argparse.Namespace) -> int:
    text, where = read_input(args.file)
    result = simulate_text(text, where)
    if args.json:
        json.dump(result, sys.stdout, indent=2 if isinstance(result, dict) else None)
        sys.stdout.write("\n")
    else:
        results = result if isinstance(result, list) else [result]
        print("\n\n".join(render(r) for r in results))
    return 0
