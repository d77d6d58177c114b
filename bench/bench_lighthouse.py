#!/usr/bin/env python3
"""Lighthouse (the pinned npm package, desktop preset) on six page kinds of the built static site.

The site is served as plain files over loopback by a throwaway in-process server on a free port (what any
static host does; no `iamkb serve`, no API), and Lighthouse drives Debian's chromium (CHROME_PATH, default
/usr/bin/chromium) headless. Each page kind is run `--runs` times (default 3) and the run with the median
performance score is reported, as Lighthouse's own documentation advises: on a shared 2-core machine one run in
five or so measures a largest contentful paint several times too late. Scores are 0-100. Needs `make node`.

    .venv/bin/python bench/bench_lighthouse.py [--site site] [--runs 3] [--gzip] [--block PATTERN] [--json]

Material's search (until the in-page search of issue 16 loads its data on first use) fetches the 4 MB search
index on every page view; when that request starts before the largest paint, Lighthouse's simulated network
(desktop: 10 Mbit/s) counts its 4 MB before the paint and reports ~3.8 s instead of ~0.6 s. `--gzip` (what a
static host sends) and `--block '*search_index.json'` (a page view that does not load the index) show the
page's own figures.

Targets (issue 22): accessibility >= 98, best practices 100, SEO 100, performance >= 95.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_playground import GzipHandler  # noqa: E402 - the static host that gzips, as the playground bench has it

LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 95, "accessibility": 98, "best-practices": 100, "seo": 100}
# One page of each kind (site paths); the same pages the browser tests sample.
PAGES = {
    "home": "",
    "start here": "start-here/",
    "topic": "autoscaling/security_iam_id-based-policy-examples/",
    "action": "reference/actions/autoscaling/DeletePolicy/",
    "managed policy": "reference/managed-policies/AutoScalingFullAccess/",
    "example": "examples/autoscaling/security_iam_id-based-policy-examples/policy-example-delete-policy-1/",
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D102 - the benchmark prints its own table
        pass


def serve(site: Path, compress: bool = False) -> http.server.ThreadingHTTPServer:
    """A static file server for `site` on 127.0.0.1 and a free port, in a daemon thread."""
    handler = functools.partial(GzipHandler if compress else _Quiet, directory=str(site.resolve()))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def lighthouse(url: str, out: Path, chrome: str, blocked: tuple[str, ...] = ()) -> dict:
    cmd = [str(LIGHTHOUSE), url, "--preset=desktop", "--output=json", f"--output-path={out}", "--quiet",
           "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
           *(f"--blocked-url-patterns={b}" for b in blocked)]
    subprocess.run(cmd, check=True, env={**os.environ, "CHROME_PATH": chrome}, cwd=ROOT)
    report = json.loads(out.read_text(encoding="utf-8"))
    scores = {c: round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES}
    failing = sorted(k for k, a in report["audits"].items() if a.get("score") is not None and a["score"] < 1
                     and a.get("scoreDisplayMode") == "binary")
    weight = report["audits"]["total-byte-weight"].get("numericValue", 0)
    return {"scores": scores, "failing_binary_audits": failing, "bytes": round(weight)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--site", type=Path, default=ROOT / "site")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", type=Path, help="keep each page's Lighthouse JSON report in this folder")
    ap.add_argument("--only", nargs="+", choices=sorted(PAGES), help="these page kinds only")
    ap.add_argument("--runs", type=int, default=3, help="runs per page kind; the median run is reported")
    ap.add_argument("--gzip", action="store_true", help="serve text files gzip-compressed, as most static hosts do")
    ap.add_argument("--block", nargs="+", default=[], metavar="PATTERN",
                    help="URL patterns the browser does not load, e.g. '*search_index.json'")
    args = ap.parse_args()
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not LIGHTHOUSE.exists() or not Path(chrome).exists() or not (args.site / "index.html").is_file():
        print(f"skipped: needs {LIGHTHOUSE.relative_to(ROOT)} (make node), {chrome} and a built site at {args.site}")
        return 0
    srv = serve(args.site, compress=args.gzip)
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    out_dir = Path(tempfile.mkdtemp(prefix="lighthouse-"))
    results = {}
    try:
        for kind, path in PAGES.items():
            if args.only and kind not in args.only:
                continue
            runs = []
            for i in range(args.runs):
                report = out_dir / f"{kind.replace(' ', '-')}-{i + 1}.json"
                runs.append((lighthouse(base + path, report, chrome, tuple(args.block)), report))
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(report, args.keep / report.name)
            runs.sort(key=lambda r: r[0]["scores"]["performance"])
            median, _ = runs[len(runs) // 2]
            results[kind] = {"path": path, **median,
                             "performance_runs": [r["scores"]["performance"] for r, _ in runs]}
    finally:
        srv.shutdown()
        shutil.rmtree(out_dir, ignore_errors=True)
    met = all(r["scores"][c] >= t for r in results.values() for c, t in TARGETS.items())
    if args.json:
        print(json.dumps({"results": results, "targets": TARGETS, "met": met}, indent=1))
        return 0
    print("| page kind | performance (runs) | accessibility | best practices | SEO | page view KB | failing audits |")
    print("|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        s = r["scores"]
        runs = "/".join(map(str, r["performance_runs"]))
        print(f"| {kind} | {s['performance']} ({runs}) | {s['accessibility']} | {s['best-practices']} | {s['seo']} | "
              f"{r['bytes'] / 1024:,.0f} | {', '.join(r['failing_binary_audits']) or '—'} |")
    print(f"targets {TARGETS}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
