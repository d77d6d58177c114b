#!/usr/bin/env python3
"""The site's search box in chromium: quality on kb/questions.yml, what it downloads, and how fast it answers.

Serves the built site (cached_site(), built if its inputs changed) from the gzipping static server of
bench_playground.py (a static host: no API) and drives Debian's chromium with Playwright.

Quality, each system on the same questions in the same run (Recall@1, Recall@3, MRR@10 by part, as
bench_search.py and `iamkb eval` score them):
- the page's engine: window.iamkb.search(question, {limit: 10}) in chromium (iamkb's ranking in the page, with
  the static token vectors when the index has them);
- ask in Python as the page ranks (`static.page_engine`, the same index: the page must match it);
- ask's lexical path in Python (no vectors at all: what the page ran before the token vectors);
- the server's ask: iamkb.search.ask, what /api/ask answers behind `iamkb serve` (vectors and the full ranker);
- Material's search as the box was before: the same site built with Material's search plugin (a throwaway build,
  --no-material skips it), its worker run in node over that site's search_index.json (bench_search.py).

Payload and speed, each round a fresh browser context (cold HTTP cache), on a topic page:
- bytes of the page view before the box is used (and that none of them is a search file);
- bytes the first search adds (the engine's code and data), gzipped as served;
- milliseconds from pressing "/" (the first keystroke: the box takes focus and starts loading) to the first
  results shown, with the question entered as one input (pasted, or typed faster than the box's pause), and
  typed key by key at Playwright's pace (~5 ms a key, 83 keys);
- later questions: the engine's time per window.iamkb.search call (warm), and from typing a new question into
  the box to its results shown (this includes the box's 60 ms pause after the last key).

Usage: .venv/bin/python bench/bench_site_search.py [--rounds 5] [--no-material] [--json bench/out/site-search.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_playground import ARGS, Traffic, serve  # noqa: E402
from bench_search import SectionMap, material_system  # noqa: E402

from iamkb import paths  # noqa: E402
from iamkb.search import ask as server_ask  # noqa: E402
from iamkb.search import static  # noqa: E402
from iamkb.search.answer import ask as python_ask  # noqa: E402
from iamkb.search.engine import open_in_space  # noqa: E402
from iamkb.search.train.evaluate import first_rank, load_questions, score  # noqa: E402
from iamkb.site.build import cached_site  # noqa: E402

PAGE = "autoscaling/security-iam/"
SEARCH_FILES = ("search/iamkb-data.js", "javascripts/search/engine.js", "javascripts/search/analysis.js",
                "javascripts/search/tokenvectors.js")
FIRST = "which permissions do I need to create an auto scaling group with a launch template"
PARTS = ("heldout", "tune", "all")


def paired(questions: list, a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, dict]:
    """Per cut-off (1 and 3), the questions `a` answers within it and `b` does not (wins) and the reverse
    (losses), with the exact two-sided McNemar p of that split."""
    from math import comb

    out = {}
    for k in (1, 3):
        hit_a = [first_rank(a[q.q], q.relevant) or 99 for q in questions]
        hit_b = [first_rank(b[q.q], q.relevant) or 99 for q in questions]
        wins = sum(x <= k < y for x, y in zip(hit_a, hit_b, strict=True))
        losses = sum(y <= k < x for x, y in zip(hit_a, hit_b, strict=True))
        n = wins + losses
        p = min(1.0, 2 * sum(comb(n, i) for i in range(min(wins, losses) + 1)) / 2 ** n) if n else 1.0
        out[f"rank {k}"] = {"wins": wins, "losses": losses, "mcnemar_p": round(p, 2)}
    return out


class PageMap:
    """A Material hit (location, title) -> the KB id whose page (and anchor) it is, through the site's own
    links (Site.site_url); a location no id has falls back to bench_search's section mapping (by page and
    heading title), so entity pages count as the entities they are."""

    def __init__(self) -> None:
        from iamkb.site.data import load_site_data
        from iamkb.site.pages import Site

        site = Site(load_site_data())
        d = site.data
        ids = [*d.sections, *(e["id"] for e in d.examples)] + [r["id"] for r in d.actions + d.condition_keys
                                                               + d.resource_types + d.managed_policies]
        self.by_url: dict[str, str] = {}
        for ident in ids:
            url = site.site_url(ident)
            if url is not None:
                self.by_url.setdefault(url, ident)
        build = paths.build_dir()
        self.sections = SectionMap(list(d.sections.values()), json.loads((build / "pages.json").read_text(encoding="utf-8")))

    def __call__(self, location: str, title: str) -> str | None:
        return self.by_url.get(location) or self.sections(location, title)


def material_site(tmp: Path) -> Path:
    """The site as it was with Material's search: the same config and hook, plus the search plugin."""
    config = ROOT / f".mkdocs-material-search-{tmp.name}.yml"  # beside mkdocs.yml: relative paths resolve alike
    config.write_text("INHERIT: mkdocs.yml\nplugins:\n  - search\n", encoding="utf-8")
    try:
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config), "-d", str(tmp / "site")],
                       cwd=ROOT, check=True, capture_output=True)
    finally:
        config.unlink()
    return tmp / "site"


def quality(ranked: dict[str, list[str]], questions) -> dict:
    return {part: m for part, m in score(lambda q: ranked[q], questions)["metrics"].items() if part in PARTS}


def page_rankings(browser, base: str, questions: list[str]) -> dict[str, list[str]]:
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(base + PAGE)
    ids = page.evaluate("""async (qs) => { const out = [];
        for (const q of qs) out.push((await window.iamkb.search(q, {limit: 10})).map(r => r.id));
        return out; }""", questions)
    ctx.close()
    return dict(zip(questions, ids, strict=True))


def prime(base: str) -> None:
    """Fetch each search file once, gzipped, so the server holds its compressed copy (as a host does)."""
    import urllib.request

    for f in SEARCH_FILES:
        urllib.request.urlopen(urllib.request.Request(base + f, headers={"Accept-Encoding": "gzip"})).read()


def cold_round(browser, base: str, question: str, typed: bool) -> dict:
    """A fresh context: the page view, then "/" (the first keystroke: the box takes focus and starts loading)
    and the question, as one input (pasted, or typed faster than the box's pause) or typed key by key at
    Playwright's pace (`typed`), until the first result is shown."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    traffic = Traffic(page)
    page.goto(base + PAGE)
    page.wait_for_load_state("networkidle")
    view = traffic.total()
    early = [u for u, _ in traffic.entries if any(f in u for f in SEARCH_FILES)]
    traffic.reset()
    start = time.perf_counter()
    page.keyboard.press("/")
    if typed:
        page.keyboard.type(question)
    else:
        page.locator(".iamkb-search__input").fill(question)
    page.locator(".iamkb-search__link").first.wait_for(timeout=60000)
    first = time.perf_counter() - start
    page.wait_for_load_state("networkidle")
    search_bytes = sum(n for u, n in traffic.entries if any(f in u for f in SEARCH_FILES))
    ctx.close()
    return {"page_view_bytes": view, "search_files_before_use": early, "first_search_bytes": search_bytes,
            "first_results_ms": round(first * 1000), "typed": typed}


def warm_times(browser, base: str, questions: list[str]) -> dict:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(base + PAGE)
    page.evaluate("() => window.iamkb.search('warm up', {limit: 8})")
    per_call = page.evaluate("""async (qs) => { const out = [];
        for (const q of qs) { const t = performance.now(); await window.iamkb.search(q, {limit: 8});
          out.push(performance.now() - t); }
        return out; }""", questions)
    typed = []
    box = page.locator(".iamkb-search__input")
    for q in questions[:20]:
        box.fill("")
        page.evaluate("() => document.querySelector('.iamkb-search__results').replaceChildren()")
        start = time.perf_counter()
        box.type(q)
        page.locator(".iamkb-search__link").first.wait_for(timeout=20000)
        typed.append((time.perf_counter() - start) * 1000)
    ctx.close()
    per_call.sort()
    return {"engine_ms_median": round(statistics.median(per_call), 1),
            "engine_ms_p90": round(per_call[int(len(per_call) * 0.9)], 1), "engine_ms_max": round(max(per_call), 1),
            "typed_to_results_ms_median": round(statistics.median(typed)), "questions": len(per_call)}


def main() -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="cold rounds (fresh browser contexts)")
    ap.add_argument("--no-material", action="store_true", help="skip the build with Material's search")
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args()

    questions = load_questions()
    texts = [q.q for q in questions if q.answerable]
    site = cached_site()
    report: dict = {"quality": {}}
    srv, base = serve(site)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS)
        page_ranked = page_rankings(browser, base, texts)
        report["quality"]["page engine (chromium)"] = quality(page_ranked, questions)
        prime(base)
        report["cold"] = [cold_round(browser, base, FIRST, typed) for typed in (False, True)
                          for _ in range(args.rounds)]
        report["warm"] = warm_times(browser, base, [q.q for q in questions if q.heldout][:100])
        material = None
        if not args.no_material:
            tmp = Path(tempfile.mkdtemp(prefix="material-", dir=ROOT / ".cache"))
            try:
                material = material_site(tmp)
                msrv, mbase = serve(material)
                ctx = browser.new_context()
                page = ctx.new_page()
                traffic = Traffic(page)
                page.goto(mbase + PAGE)
                page.wait_for_load_state("networkidle")
                time.sleep(1)
                report["material_page_view_bytes"] = traffic.total()
                ctx.close()
                msrv.shutdown()
                system = material_system(material / "search" / "search_index.json", questions, PageMap())
                report["quality"]["Material's search (the site as it was)"] = quality(
                    {q: system(q) for q in texts}, questions)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        browser.close()
    srv.shutdown()
    python_page = static.page_engine(paths.index_dir())
    python_ranked = {q: [r["id"] for r in python_ask(python_page, q)["results"]] for q in texts}
    report["quality"][f"ask as the page ranks ({python_page.space()}, Python)"] = quality(python_ranked, questions)
    report["page_equals_python"] = sum(page_ranked[q][:3] == python_ranked[q][:3] for q in texts)
    lexical = open_in_space(paths.index_dir(), "lexical")
    lexical_ranked = {q: [r["id"] for r in python_ask(lexical, q)["results"]] for q in texts}
    report["quality"]["ask's lexical path (Python)"] = quality(lexical_ranked, questions)
    report["paired_heldout_vs_lexical"] = paired([q for q in questions if q.heldout], page_ranked, lexical_ranked)
    report["questions"] = len(texts)
    full = {q: [r["id"] for r in server_ask(q)["results"]] for q in texts}
    report["quality"]["the server's ask (iamkb serve, full)"] = quality(full, questions)

    cold = report["cold"]
    report["summary"] = {
        "page_view_kb": round(statistics.median(r["page_view_bytes"] for r in cold) / 1000, 1),
        "search_files_before_use": sorted({u for r in cold for u in r["search_files_before_use"]}),
        "first_search_kb": round(statistics.median(r["first_search_bytes"] for r in cold) / 1000, 1),
        "first_results_ms": [r["first_results_ms"] for r in cold if not r["typed"]],
        "first_results_ms_median": statistics.median(r["first_results_ms"] for r in cold if not r["typed"]),
        "first_results_typed_ms_median": statistics.median(r["first_results_ms"] for r in cold if r["typed"]),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"{'system':<42} {'part':<8} {'n':>4} {'R@1':>6} {'R@3':>6} {'MRR@10':>7}")
    for name, parts in report["quality"].items():
        for part in PARTS:
            m = parts[part]
            print(f"{name:<42} {part:<8} {m['n']:>4} {m['recall@1']:>6.3f} {m['recall@3']:>6.3f} {m['mrr@10']:>7.3f}")
    print(f"page top 3 = Python top 3 on {report['page_equals_python']} of {report['questions']} questions")
    print("held-out, the page against ask's lexical path:", json.dumps(report["paired_heldout_vs_lexical"]))
    print(json.dumps({**report["summary"], **report["warm"],
                      "material_page_view_kb": round(report.get("material_page_view_bytes", 0) / 1000, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
