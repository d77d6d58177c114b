"""Pooled relevance judging for kb/questions.yml: find the answers a question's writer did not list.

Why: each question was written with the answer its writer knew, but the docs often answer a question twice (the
IAM User Guide and the Auto Scaling guide, a condition key's reference entry and the section about the key). A
system that puts the other answer first is right, and scoring it as a miss understates every system alike.
This is the pooling method of TREC-style evaluations: the top results of several systems are pooled, and
every pooled result the set does not already list is judged by someone who does not see which system found it.

    .venv/bin/python bench/pool.py packets --out DIR [--parts 6]   # pool and write judging packets
    .venv/bin/python bench/pool.py merge DIR/judged*.yml            # record the judgments

`packets` pools the first three sections of `iamkb ask`, `iamkb search` and plain Whoosh BM25F (the baseline of
bench_search.py) for every answerable question, held-out ones included (judging changes no method: it only
corrects the answer key), leaves out what the set lists and what bench/judged.yml already holds, and writes
packets of questions with each candidate's text, in an order that does not tell the systems apart.

`merge` reads the judges' files (`- {n: <question number>, yes: [...], no: [...]}`, beside the packets and
their questions.json), records every judgment in
bench/judged.yml (by question text, so a later pooling asks only about new results), and adds the yes ids to
the question's `also:` list in kb/questions.yml.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import whoosh_default_system  # noqa: E402

from iamkb import paths  # noqa: E402
from iamkb.search import ask, search  # noqa: E402
from iamkb.search.engine import engine as open_engine  # noqa: E402
from iamkb.search.train.evaluate import load_questions, section_of  # noqa: E402

DEPTH = 3          # results pooled from each system
TEXT_LIMIT = 1500  # characters of each candidate shown in a packet (the judge can read the rest with iamkb topic)
JUDGED = Path(__file__).resolve().parent / "judged.yml"
NUMBERS = "questions.json"  # beside the packets: question number -> text


def top_sections(ids: list[str], depth: int = DEPTH) -> list[str]:
    """The first `depth` distinct results, an example counted as its section."""
    out: list[str] = []
    for i in ids:
        s = section_of(i)
        if s not in out:
            out.append(s)
    return out[:depth]


def load_judged(path: Path | None = None) -> dict[str, dict[str, list[str]]]:
    path = path or JUDGED
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def pool(questions, systems) -> list[dict]:
    judged = load_judged()
    items = []
    for n, q in enumerate(questions):
        if not q.answerable:
            continue
        seen = set(q.relevant) | set(judged.get(q.q, {}).get("yes", [])) | set(judged.get(q.q, {}).get("no", []))
        found = {s for system in systems for s in top_sections(system(q.q))} - seen
        order = sorted(found, key=lambda s: hashlib.sha1((q.q + s).encode()).hexdigest())
        if order:
            items.append({"n": n, "q": q.q, "known": list(q.relevant), "pool": order})
    return items


def describe(ident: str, sections: dict[str, dict], eng) -> str:
    if ident in sections:
        s = sections[ident]
        body = s["text"]
        cut = " [...]" if len(body) > TEXT_LIMIT else ""
        return f"{' / '.join(s.get('path') or [s['title']])}\n{body[:TEXT_LIMIT]}{cut}"
    d = eng.document(ident)
    return "(unknown id)" if d is None else f"{d.title} ({d.kind})\n{d.body[:TEXT_LIMIT]}"


def write_packets(items: list[dict], out: Path, parts: int) -> None:
    sections = {s["id"]: s for s in json.loads((paths.build_dir() / "sections.json").read_text(encoding="utf-8"))}
    eng = open_engine()
    out.mkdir(parents=True, exist_ok=True)
    numbers = {it["n"]: it["q"] for it in items}  # what each number meant, so `merge` survives edits to the set
    (out / NUMBERS).write_text(json.dumps(numbers, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for p in range(parts):
        chunk = items[p::parts]
        text = [f"# Judging packet {p + 1}: {len(chunk)} questions\n"]
        for it in chunk:
            text.append(f"\n======== Q{it['n']}: {it['q']}\n")
            text.append("Known answer(s), already in the set (for reference, do not judge):\n")
            text += [f"  - {k}: {describe(k, sections, eng).splitlines()[0]}\n" for k in it["known"]]
            text += [f"\n--- candidate {c}\n{describe(c, sections, eng)}\n" for c in it["pool"]]
        (out / f"packet{p + 1}.md").write_text("".join(text), encoding="utf-8")


def add_also(text: str, also: dict[int, list[str]]) -> str:
    """kb/questions.yml with each numbered question's `also:` list set, the rest of the file as it was."""
    blocks = re.split(r"(?m)^(?=- q: )", text)
    head, questions = blocks[0], blocks[1:]
    for n, ids in also.items():
        block = re.sub(r"(?m)^  also:\n(?:  - .*\n)*", "", questions[n])
        listed = "".join(f"  - {i}\n" for i in ids)
        block = re.sub(r"(?m)^(  ids:\n(?:  - .*\n)*)", lambda m, listed=listed: m.group(1) + "  also:\n" + listed,
                       block, count=1)
        questions[n] = block
    return head + "".join(questions)


def merge(files: list[Path]) -> None:
    questions = load_questions()
    in_set = {q.q for q in questions}
    judged = load_judged()
    for f in files:
        numbers = json.loads((f.parent / NUMBERS).read_text(encoding="utf-8"))
        for row in yaml.safe_load(f.read_text(encoding="utf-8")) or []:
            text = numbers[str(row["n"])]
            if text not in in_set:
                raise SystemExit(f"{f}: question {row['n']} ({text!r}) is no longer in the set")
            entry = judged.setdefault(text, {"yes": [], "no": []})
            for verdict, as_bool in (("yes", True), ("no", False)):  # YAML 1.1 reads a bare yes: as True
                entry[verdict] = sorted(set(entry[verdict]) | set(row.get(verdict, row.get(as_bool)) or []))
    also = {}
    for n, q in enumerate(questions):
        yes = [i for i in judged.get(q.q, {}).get("yes", []) if i not in q.ids]
        if yes or q.also:
            also[n] = sorted(set(yes) | set(q.also))
    JUDGED.write_text(yaml.safe_dump(judged, sort_keys=True, allow_unicode=True, width=200), encoding="utf-8")
    target = paths.kb_dir() / "questions.yml"
    target.write_text(add_also(target.read_text(encoding="utf-8"), also), encoding="utf-8")
    print(f"{sum(len(v['yes']) + len(v['no']) for v in judged.values())} judgments recorded; "
          f"{sum(len(v) for v in also.values())} further answers on {len(also)} questions")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("packets")
    pk.add_argument("--out", type=Path, required=True)
    pk.add_argument("--parts", type=int, default=6)
    mg = sub.add_parser("merge")
    mg.add_argument("files", type=Path, nargs="+")
    args = ap.parse_args()
    if args.command == "merge":
        merge(args.files)
        return 0
    sections = json.loads((paths.build_dir() / "sections.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        plain = whoosh_default_system(sections, Path(tmp))
        systems = [lambda t: [r["id"] for r in ask(t)["results"]],
                   lambda t: [r["id"] for r in search(t)["results"]], plain]
        items = pool(load_questions(), systems)
    write_packets(items, args.out, args.parts)
    print(f"{len(items)} questions, {sum(len(i['pool']) for i in items)} candidates to judge in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
