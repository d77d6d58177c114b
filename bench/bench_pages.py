#!/usr/bin/env python3
"""What one page view downloads, per page kind, against a budget: the page-weight benchmark.

Each page is opened in Debian's chromium (Playwright) from a plain static server on loopback, left until the
network is idle (so what scripts fetch after the load counts too, e.g. the search index Material's search
worker downloads on every page view), and every response body is counted, by kind of file. Sizes are bytes
as served, uncompressed; "gzipped" is what a host that compresses would send (gzip level 6 of each body).

    .venv/bin/python bench/bench_pages.py [--site site] [--budget-kb 700] [--json]

The budget is per page view, everything it loads included; the table also gives the figure without the search
index, which the in-page search (issue 16) is to load only when the reader first uses search.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_lighthouse import PAGES, serve  # noqa: E402

BUDGET_KB = 700  # the largest page of the default site (an upstream table page, 305 KB of HTML) fits
SEARCH_INDEX = "search/search_index.json"


def kind_of(url: str) -> str:
    path = url.split("?", 1)[0]
    if path.endswith(SEARCH_INDEX):
        return "search index"
    for ext, kind in ((".css", "css"), (".js", "js"), (".json", "json"), ("/", "html"), (".html", "html")):
        if path.endswith(ext):
            return kind
    return "other"


def page_view(browser, url: str) -> dict[str, int]:
    """Bytes per kind of file that opening `url` downloads, until the network is idle."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    sizes: dict[str, int] = {}

    def count(response) -> None:
        if response.url.startswith("data:"):
            return
        try:
            body = response.body()
        except Exception:  # a redirect or an aborted request has no body
            return
        kind = kind_of(response.url)
        sizes[kind] = sizes.get(kind, 0) + len(body)
        sizes["gzipped"] = sizes.get("gzipped", 0) + len(gzip.compress(body, 6))

    page.on("response", count)
    page.goto(url, wait_until="networkidle")
    ctx.close()
    return sizes


def largest_page(site: Path) -> str:
    pages = max((p.stat().st_size, p) for p in site.resolve().rglob("index.html"))[1]
    return pages.parent.relative_to(site.resolve()).as_posix() + "/"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--site", type=Path, default=ROOT / "site")
    ap.add_argument("--budget-kb", type=int, default=BUDGET_KB)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skipped: the playwright package is not installed")
        return 0
    if not Path(chrome).exists() or not (args.site / "index.html").is_file():
        print(f"skipped: needs {chrome} and a built site at {args.site}")
        return 0
    pages = {**PAGES, "largest page": largest_page(args.site)}
    srv = serve(args.site)
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    results = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chrome, args=["--headless=new", "--no-sandbox"])
            for kind, path in pages.items():
                results[kind] = {"path": path, "bytes": page_view(browser, base + path)}
            browser.close()
    finally:
        srv.shutdown()
    budget = args.budget_kb * 1024
    for r in results.values():
        r["gzipped"] = r["bytes"].pop("gzipped", 0)
        r["total"] = sum(r["bytes"].values())
        r["without_search_index"] = r["total"] - r["bytes"].get("search index", 0)
        r["within_budget"] = r["total"] <= budget
    if args.json:
        print(json.dumps({"budget_bytes": budget, "results": results}, indent=1))
        return 0
    print(f"budget: {args.budget_kb} KB per page view, everything it loads")
    print("| page kind | HTML KB | CSS KB | JS KB | search index KB | total KB | without search index KB | "
          "total gzipped KB | within budget |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        b = {k: v / 1024 for k, v in r["bytes"].items()}
        print(f"| {kind} ({r['path'] or '/'}) | {b.get('html', 0):,.0f} | {b.get('css', 0):,.0f} | "
              f"{b.get('js', 0):,.0f} | {b.get('search index', 0):,.0f} | {r['total'] / 1024:,.0f} | "
              f"{r['without_search_index'] / 1024:,.0f} | {r['gzipped'] / 1024:,.0f} | "
              f"{'yes' if r['within_budget'] else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
