#!/usr/bin/env python3
"""The playground in chromium: what a reader's browser downloads and waits for.

Serves the built site (cached_site(), built if its inputs changed) from a static file server that gzips as a
static host would (level 6, for HTML, CSS, JavaScript, JSON and WebAssembly; zip files as they are), and drives
Debian's chromium with Playwright. Bytes are what went over the wire (Playwright's encoded response sizes plus
headers), measured per phase:

- page load of an example page (with its editor) before anything is pressed: must fetch no engine file;
- the first Run on a cold cache (a fresh browser context): bytes, and seconds from the click to the first
  decision shown and to every decision shown;
- later Runs on the same page (engine warm);
- the first Run after a reload with a warm HTTP cache (same context);
- a lint round trip (an edit to the findings shown, engine warm);
- window.iamkb.simulate over every scenario of the KB's examples, one call each.

Usage: .venv/bin/python bench/bench_playground.py [--repeat 3] [--json bench/out/playground.json]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iamkb.site import playground, urls  # noqa: E402
from iamkb.site.build import cached_site  # noqa: E402
from iamkb.site.data import load_site_data  # noqa: E402

EXAMPLE = "example:autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy:1"
GZIP_TYPES = ("text/", "application/javascript", "application/json", "application/wasm", "image/svg+xml")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """python -m http.server's handler, gzipping compressible types when the client accepts it (as nginx's
    `gzip on; gzip_types ...` or most static hosts do), with Last-Modified for the browser's cache."""

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            return super().send_head()
        ctype = self.guess_type(path)
        if "gzip" not in self.headers.get("Accept-Encoding", "") or not ctype.startswith(GZIP_TYPES) \
                or not os.path.isfile(path):
            return super().send_head()
        stat = os.stat(path)
        if self.headers.get("If-Modified-Since") == self.date_time_string(int(stat.st_mtime)):
            self.send_response(304)
            self.end_headers()
            return None
        with open(path, "rb") as f:
            body = gzip.compress(f.read(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", self.date_time_string(int(stat.st_mtime)))
        self.end_headers()
        import io

        return io.BytesIO(body)


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(GzipHandler, directory=str(site.resolve()))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"


class Traffic:
    """Bytes and URLs of finished requests, per phase (reset() starts a phase)."""

    def __init__(self, page) -> None:
        self.entries: list[tuple[str, int]] = []
        page.on("requestfinished", self._done)

    def _done(self, request) -> None:
        sizes = request.sizes()
        self.entries.append((request.url, sizes["responseBodySize"] + sizes["responseHeadersSize"]))

    def reset(self) -> None:
        self.entries = []

    def total(self) -> int:
        return sum(n for _, n in self.entries)

    def engine_urls(self) -> list[str]:
        return [u for u, _ in self.entries if "assets/iamkb/pyodide/" in u or "assets/iamkb/engine" in u]


def wait_idle(page, quiet: float = 0.5) -> None:
    page.wait_for_load_state("networkidle")
    time.sleep(quiet)


def click_run(page) -> tuple[float, float]:
    """Seconds from the click to the first decision shown, and to the Run finishing."""
    page.evaluate("() => document.querySelectorAll('.iamkb-result').forEach(r => r.replaceChildren())")
    start = time.perf_counter()
    page.locator(".iamkb-run").click()
    page.wait_for_selector(".iamkb-decision", timeout=180000)
    first = time.perf_counter() - start
    page.wait_for_function("() => !document.querySelector('.iamkb-run').disabled", timeout=180000)
    return first, time.perf_counter() - start


def one_round(browser, base: str, scenarios: list[dict]) -> dict:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    traffic = Traffic(page)
    out: dict = {}
    page.goto(base + urls.url_of(urls.example_path(EXAMPLE)))
    page.wait_for_selector(".iamkb-playground[data-ready]", state="attached", timeout=30000)
    wait_idle(page)
    out["page_load_bytes"] = traffic.total()
    out["engine_files_before_run"] = len(traffic.engine_urls())
    traffic.reset()
    out["first_run_first_decision_s"], out["first_run_all_s"] = click_run(page)
    wait_idle(page, 0.2)
    out["first_run_bytes"] = traffic.total()
    out["first_run_files"] = {u.rsplit("/", 1)[-1]: n for u, n in traffic.entries}
    runs = [click_run(page)[1] for _ in range(5)]
    out["later_run_s"] = statistics.median(runs)
    out["cards"] = page.locator(".iamkb-card").count()
    # lint round trip: an edit to its findings, engine warm
    box = page.locator(".iamkb-playground textarea").first
    text = box.input_value()
    start = time.perf_counter()
    box.fill(text.replace("autoscaling:DeletePolicy", "autoscaling:DeletePolicyy", 1))
    page.locator(".iamkb-finding", has_text="UNKNOWN_ACTION").wait_for(timeout=60000)
    out["lint_after_edit_s"] = time.perf_counter() - start  # includes the 400 ms debounce
    start = time.perf_counter()
    page.evaluate("async list => { for (const s of list) await window.iamkb.simulate(s); }", scenarios)
    out["simulate_all_s"] = time.perf_counter() - start
    out["simulate_all_n"] = len(scenarios)
    # a reload with the HTTP cache warm
    page.reload()
    page.wait_for_selector(".iamkb-playground[data-ready]", state="attached", timeout=30000)
    wait_idle(page)
    traffic.reset()
    out["warm_cache_first_run_first_decision_s"], _ = click_run(page)
    wait_idle(page, 0.2)
    out["warm_cache_first_run_bytes"] = traffic.total()
    ctx.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the rounds as JSON here")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists() or playground.node_package(playground.PYODIDE) is None:
        print("skipped: needs Debian's chromium and the npm package pyodide (make node)")
        return 0
    from playwright.sync_api import sync_playwright

    site = cached_site()
    catalog = {e["id"]: e for e in (load_site_data().catalog or [])}
    scenarios = [s["scenario"] for e in catalog.values() for s in e.get("scenarios") or []]
    srv, base = serve(site)
    rounds = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            for _ in range(args.repeat):
                rounds.append(one_round(browser, base, scenarios))
            browser.close()
    finally:
        srv.shutdown()
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0] if isinstance(rounds[0][k], (int, float))}
    print(f"example page {urls.url_of(urls.example_path(EXAMPLE))}, {med['cards']:.0f} scenarios, "
          f"median of {len(rounds)} (load average {os.getloadavg()[0]:.1f})")
    rows = [("page load, before any Run (bytes)", f"{med['page_load_bytes']:,.0f}"),
            ("engine files fetched before the first Run", f"{med['engine_files_before_run']:.0f}"),
            ("first Run, cold cache (bytes)", f"{med['first_run_bytes']:,.0f}"),
            ("first Run, cold cache: click to first decision (s)", f"{med['first_run_first_decision_s']:.2f}"),
            ("first Run, cold cache: click to all decisions (s)", f"{med['first_run_all_s']:.2f}"),
            ("later Run, all decisions (s)", f"{med['later_run_s']:.3f}"),
            ("first Run after a reload, warm HTTP cache (bytes)", f"{med['warm_cache_first_run_bytes']:,.0f}"),
            ("first Run after a reload, warm HTTP cache: to first decision (s)",
             f"{med['warm_cache_first_run_first_decision_s']:.2f}"),
            ("lint: edit to findings shown, with the 0.4 s debounce (s)", f"{med['lint_after_edit_s']:.2f}"),
            (f"window.iamkb.simulate, {med['simulate_all_n']:.0f} scenarios one by one (s)",
             f"{med['simulate_all_s']:.2f}")]
    print("\n| what | median |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    files = rounds[0]["first_run_files"]
    print("\nfirst Run's files (bytes on the wire, first round):")
    for name, n in sorted(files.items(), key=lambda kv: -kv[1]):
        print(f"  {n:>10,}  {name}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rounds, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
