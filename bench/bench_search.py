#!/usr/bin/env python3
"""Search benchmark: quality on kb/questions.yml (ours and two baselines, same run) and speed of ask.

    .venv/bin/python bench/bench_search.py                 # ours + Whoosh-default + Material-over-raw-pages + speed
    .venv/bin/python bench/bench_search.py --site site/    # also Material's own search over a built site

Baselines:
- whoosh-default: plain Whoosh BM25F over the KB's sections (fields title and body, Whoosh's default analysis,
  the default query parser with OR grouping so questions in words match at all), built in a temp dir.
- material-raw: MkDocs Material's search worker (the lunr build it bundles, its own query transform and
  grouping) run in node on the search_index.json of a throwaway MkDocs project of the raw fetched pages
  (.cache/sources), built in a temp dir and deleted. Its hits (page/#slug) are mapped to section ids by page
  and heading title; a page hit counts as the page's first section.
The `--site` mode runs the same worker on any built site's search/search_index.json, mapping locations to ids
by page path and anchor (then by title).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iamkb import paths  # noqa: E402
from iamkb.search import ask, search  # noqa: E402
from iamkb.search.answer import ask as answer_ask  # noqa: E402
from iamkb.search.engine import Engine, engine  # noqa: E402
from iamkb.search.ranking import ranker_for  # noqa: E402
from iamkb.search.train.evaluate import load_questions, score  # noqa: E402

NODE_RUNNER = r"""
// Run MkDocs Material's search worker in node: feed it a search_index.json, then one query per input line.
const fs = require("fs");
const [worker, indexPath, queriesPath] = process.argv.slice(2);
let reply;
globalThis.self = globalThis;
globalThis.addEventListener = (type, fn) => { globalThis.__onmessage = fn; };
globalThis.postMessage = (msg) => { reply = msg; };
globalThis.importScripts = () => {};
require(worker);
async function send(data) { reply = undefined; await globalThis.__onmessage({ data });
  while (reply === undefined) await new Promise(r => setTimeout(r, 0)); return reply; }
(async () => {
  const index = JSON.parse(fs.readFileSync(indexPath, "utf8"));
  await send({ type: 0, data: { options: { suggest: false }, ...index } });
  const out = [];
  for (const q of JSON.parse(fs.readFileSync(queriesPath, "utf8"))) {
    const res = await send({ type: 2, data: q });
    const flat = [];
    for (const group of res.data.items) for (const item of group) if (item.score > 0) flat.push(item);
    out.push(flat.map(i => ({ location: i.location, title: i.title })));
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def material_worker() -> Path:
    import material

    found = sorted((Path(material.__file__).parent / "templates/assets/javascripts/workers").glob("search.*.min.js"))
    if not found:
        raise SystemExit("mkdocs-material's search worker not found")
    return found[0]


def run_material(index_json: Path, questions: list[str]) -> list[list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        runner = Path(tmp) / "runner.js"
        runner.write_text(NODE_RUNNER, encoding="utf-8")
        qfile = Path(tmp) / "q.json"
        qfile.write_text(json.dumps(questions), encoding="utf-8")
        out = subprocess.run(["node", str(runner), str(material_worker()), str(index_json), str(qfile)],
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _norm(title: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", title)).strip().lower()


class SectionMap:
    """Map a search hit (page location + heading title) to a KB section id."""

    def __init__(self, sections: list[dict], pages: list[dict]) -> None:
        self.by_page_title = {(s["page"], _norm(s["title"])): s["id"] for s in sections}
        self.ids = {s["id"] for s in sections}
        self.first = {p["id"]: p["sections"][0] for p in pages if p["sections"]}
        self.pages = {p["id"].split("/", 1)[1]: p["id"] for p in pages}

    def page_of(self, location: str) -> str | None:
        path = location.split("#", 1)[0].strip("/").removesuffix(".html").removesuffix("/index")
        for candidate in (path, path.rsplit("/", 1)[-1]):
            if candidate in self.first:
                return candidate
            if candidate in self.pages:
                return self.pages[candidate]
        return None

    def __call__(self, location: str, title: str) -> str | None:
        page = self.page_of(location)
        if page is None:
            return None
        anchor = location.split("#", 1)[1] if "#" in location else ""
        if anchor and f"{page}#{anchor}" in self.ids:
            return f"{page}#{anchor}"
        if anchor:
            return self.by_page_title.get((page, _norm(title)), self.first.get(page))
        return self.first.get(page)


def material_system(index_json: Path, questions, mapper: SectionMap):
    raw = run_material(index_json, [q.q for q in questions])
    results = {}
    for q, hits in zip(questions, raw, strict=True):
        ids: list[str] = []
        for h in hits:
            sid = mapper(h["location"], h["title"])
            if sid and sid not in ids:
                ids.append(sid)
        results[q.q] = ids
    return lambda text: results[text]


def build_raw_site(pages: list[dict], tmp: Path) -> Path:
    """A throwaway MkDocs Material project of the raw fetched pages; returns its search_index.json."""
    docs = tmp / "docs"
    for p in pages:
        src = paths.cache_dir() / p["source"]["repository"] / p["source"]["commit"] / p["source"]["path"]
        if not src.exists():
            raise SystemExit(f"{src}: not fetched (run `iamkb fetch`)")
        dest = docs / p["guide"] / f"{p['page']}.md"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    (tmp / "mkdocs.yml").write_text("site_name: raw\ntheme:\n  name: material\nplugins:\n  - search\n",
                                    encoding="utf-8")
    subprocess.run([str(Path(sys.executable).parent / "mkdocs"), "build", "--quiet", "-f", str(tmp / "mkdocs.yml"),
                    "-d", str(tmp / "site")], check=True, capture_output=True)
    return tmp / "site" / "search" / "search_index.json"


def whoosh_default_system(sections: list[dict], tmp: Path):
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import MultifieldParser, OrGroup

    ix = index.create_in(str(tmp), Schema(id=ID(stored=True, unique=True), title=TEXT, body=TEXT))
    w = ix.writer()
    for s in sections:
        w.add_document(id=s["id"], title=s["title"], body=s["text"])
    w.commit()
    searcher = ix.searcher()
    parser = MultifieldParser(["title", "body"], ix.schema, group=OrGroup)

    def run(text: str) -> list[str]:
        return [h["id"] for h in searcher.search(parser.parse(text), limit=10)]
    return run


def quality(system, questions) -> dict:
    """A system's metrics by part, and (starred) counting only the ids each question was written with."""
    scored = score(system, questions)
    return {**scored["metrics"], **{f"{part}*": m for part, m in scored["as_written"].items()}}


def speed(questions: list[str]) -> dict:
    exe = str(Path(sys.executable).parent / "iamkb")
    cold = []
    for q in questions[:7]:
        t = time.perf_counter()
        subprocess.run([exe, "ask", "--json", q], check=True, capture_output=True)
        cold.append(time.perf_counter() - t)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(questions))
    t = time.perf_counter()
    subprocess.run([exe, "ask", "--json", "--file", f.name], check=True, capture_output=True)
    batch = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([exe, "ask", "--json", "--jobs", "1", "--file", f.name], check=True, capture_output=True)
    batch_one = time.perf_counter() - t
    os.unlink(f.name)
    ask(questions[0])
    t = time.perf_counter()
    for q in questions:
        ask(q)
    warm = time.perf_counter() - t
    t = time.perf_counter()
    for q in questions:
        search(q)
    warm_search = time.perf_counter() - t
    return {"cold_ask_median_s": round(statistics.median(cold), 3), "cold_ask_max_s": round(max(cold), 3),
            "batch_ask_qps_whole_process": round(len(questions) / batch, 1),
            "batch_ask_qps_one_process": round(len(questions) / batch_one, 1),
            "ask_qps_in_process": round(len(questions) / warm, 1),
            "search_qps_in_process": round(len(questions) / warm_search, 1), "questions": len(questions)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--site", type=Path, help="a built MkDocs site folder: also score Material's search over it")
    ap.add_argument("--no-raw", action="store_true", help="skip the Material-over-raw-pages baseline")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    questions = load_questions()
    build = paths.build_dir()
    sections = json.loads((build / "sections.json").read_text(encoding="utf-8"))
    pages = json.loads((build / "pages.json").read_text(encoding="utf-8"))
    mapper = SectionMap(sections, pages)
    rows: dict[str, dict] = {}
    rows["iamkb ask"] = quality(lambda t: [r["id"] for r in ask(t)["results"]], questions)
    eng = engine()
    if ranker_for(eng) is not None:  # the hand-made rerank alone, without the learned last stage
        rows["iamkb ask, learned stage off"] = quality(
            lambda t: [r["id"] for r in answer_ask(eng, t, learned=False)["results"]], questions)
    lexical = Engine(eng.folder)
    lexical._semantic = None  # as an index without vectors (`iamkb index --lexical`): the lexical ranker answers
    rows["iamkb ask, lexical (no vectors)"] = quality(
        lambda t: [r["id"] for r in answer_ask(lexical, t)["results"]], questions)
    if eng.params.weights.semantic:  # the same rerank without the sentence-embedding signal, in the same run
        no_semantic = replace(eng.params.weights, semantic=0.0)
        rows["iamkb ask, semantic off"] = quality(
            lambda t: [r["id"] for r in answer_ask(eng, t, weights=no_semantic)["results"]], questions)
    rows["iamkb search"] = quality(lambda t: [r["id"] for r in search(t)["results"]], questions)
    with tempfile.TemporaryDirectory() as tmp:
        rows["whoosh-default (sections)"] = quality(whoosh_default_system(sections, Path(tmp)), questions)
    if not args.no_raw:
        with tempfile.TemporaryDirectory() as tmp:
            index_json = build_raw_site(pages, Path(tmp))
            rows["material-raw (lunr, raw pages)"] = quality(material_system(index_json, questions, mapper),
                                                             questions)
    if args.site:
        index_json = args.site / "search" / "search_index.json"
        if not index_json.exists():
            raise SystemExit(f"{index_json}: not found (build the site first)")
        rows[f"material-site ({args.site})"] = quality(material_system(index_json, questions, mapper),
                                                       questions)
    report = {"quality": rows, "speed": speed([q.q for q in questions])}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{'system':<34} {'part':<11} {'n':>4} {'R@1':>6} {'R@3':>6} {'MRR@10':>7}")
    for name, parts in rows.items():
        for part, m in parts.items():
            print(f"{name:<34} {part:<11} {m['n']:>4} {m['recall@1']:>6.3f} {m['recall@3']:>6.3f} {m['mrr@10']:>7.3f}")
    print(json.dumps(report["speed"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
