"""Search and questions over the knowledge base: `iamkb index|search|ask|eval` and the web server's API.

API (DESIGN.md shapes; the index is opened once per process and reopened only after a rebuild):
    search(query, kind=None, guide=None, limit=10) -> {"query", "results": [{"id","kind","title","url","score",
                                                                             "snippet"}]}
    ask(question) -> {"question", "answer", "results": [...]}
Snippets are HTML-escaped text with the matched words in <mark>. Any string is a valid query. Heavy imports
(Whoosh, YAML, rapidfuzz) happen inside the functions, so `iamkb ask` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iamkb.errors import InputError

KINDS = ("section", "example", "action", "condition_key", "resource_type", "managed_policy")
GUIDES = ("autoscaling", "iam", "reference")
PARALLEL_MIN = 40  # `ask --file` answers at least this many questions in worker processes (see _answers)


def _check_filters(kind: str | None, guide: str | None, limit: int) -> None:
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown kind '{kind}' (one of {', '.join(KINDS)})", where="kind")
    if guide is not None and guide not in GUIDES:
        raise InputError(f"unknown guide '{guide}' (one of {', '.join(GUIDES)})", where="guide")
    if not 1 <= limit <= 1000:
        raise InputError("limit must be between 1 and 1000", where="limit")


def search(query: str, kind: str | None = None, guide: str | None = None, limit: int = 10,
           index: Path | None = None) -> dict[str, Any]:
    """Plain full-text search, best first."""
    from iamkb.search.engine import engine

    if not isinstance(query, str):
        raise InputError("the query must be a string", where="query")
    _check_filters(kind, guide, limit)
    _, hits = engine(index).search(query, kind=kind, guide=guide, limit=limit)
    return {"query": query, "results": [h.result() for h in hits]}


def ask(question: str, index: Path | None = None) -> dict[str, Any]:
    """Answer a question with the section it comes from (and the reference facts, and the example policy)."""
    from iamkb.search.answer import ask as _ask
    from iamkb.search.engine import engine

    if not isinstance(question, str):
        raise InputError("the question must be a string", where="question")
    result = _ask(engine(index), question)
    # Not part of the ranking: a pointer to `iamkb can-i` for "why is this call denied" questions.
    from iamkb.callhint import hint

    found = hint(question)
    if found:
        result["hint"] = found
    return result


# --- CLI ------------------------------------------------------------------------------------------------------

def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument("--lexical", action="store_true",
                        help="without the semantic vectors: seconds instead of minutes; ask ranks lexically until "
                             "a full `iamkb index`")
    parser.add_argument("--json", action="store_true",
                        help='print {"index", "built", "documents", "changed", "seconds", "lexical"} as JSON')


def run_index(args: argparse.Namespace) -> int:
    from iamkb.search.build import update_index

    result = update_index(force=args.force, lexical=args.lexical)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    counts = result["documents"]
    what = f"{sum(counts.values())} documents ({', '.join(f'{n} {k}' for k, n in counts.items())})"
    if result["built"]:
        print(f"{result['index']}: {what}" + (" (lexical: no semantic vectors)" if result["lexical"] else ""))
    else:
        print(f"{result['index']} is up to date: {what} (its inputs are unchanged; --force rebuilds)")
    return 0


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="*", help="words, names or Whoosh query syntax (any text is accepted)")
    parser.add_argument("--kind", choices=KINDS, help="only this kind of result")
    parser.add_argument("--guide", choices=GUIDES, help="only sections and examples of this guide")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--json", action="store_true")


def _plain(snippet: str) -> str:
    import html

    return html.unescape(snippet.replace("<mark>", "\033[1m").replace("</mark>", "\033[0m")) \
        if sys.stdout.isatty() else html.unescape(snippet.replace("<mark>", "").replace("</mark>", ""))


def _print_results(results: list[dict]) -> None:
    if not results:
        print("no results")
    for i, r in enumerate(results, 1):
        print(f"{i:>2}. {r['title']}  [{r['kind']}: {r['id']}]\n    {r['url']}\n    {_plain(r['snippet'])}")


def run_search(args: argparse.Namespace) -> int:
    out = search(" ".join(args.query), kind=args.kind, guide=args.guide, limit=args.limit)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_results(out["results"])
    return 0


def add_ask_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", nargs="*", help="a question in your own words")
    parser.add_argument("--file", type=Path, help="read one question per line; print one answer per line")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes for --file (default: one per core, for files of at least "
                             f"{PARALLEL_MIN} questions)")
    parser.add_argument("--json", action="store_true")


def _questions_from(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", where=str(path)) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", where=str(path)) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _answers(questions: list[str], jobs: int) -> Iterator[dict[str, Any]]:
    """The answers in the questions' order, from `jobs` worker processes when there are enough questions to
    repay starting them (each opens the index once, ~0.5 s): a question is CPU work in one thread (Whoosh and
    a small forward pass), so a second core doubles a batch's throughput."""
    if jobs <= 1 or len(questions) < PARALLEL_MIN:
        yield from (ask(q) for q in questions)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        yield from pool.imap(ask, questions, chunksize=4)


def run_ask(args: argparse.Namespace) -> int:
    if args.file and args.question:
        raise InputError("give a question or --file, not both", where="iamkb ask")
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs must be at least 1", where="iamkb ask")
    questions = _questions_from(args.file) if args.file else [" ".join(args.question)]
    if questions and args.file:
        from iamkb.search.engine import engine

        engine()  # a missing or broken index fails here, in one line, before any worker starts
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    for q, out in zip(questions, _answers(questions, jobs), strict=True):
        if args.json:
            print(json.dumps(out, ensure_ascii=False), flush=False)
        else:
            print(f"Q: {q}\n\n{out['answer']}\n")
            if out.get("hint"):
                print(f"Hint: {out['hint']['message']} Run `{out['hint']['command']}`.\n")
            _print_results(out["results"][:5])
            print()
    return 0
