#!/usr/bin/env python3
"""Lighthouse (the pinned npm package, desktop preset) on six page kinds of the built static site.

The site is served as plain files over loopback by a throwaway in-process server on a free port (what any
static host does; no `iamkb serve`, no API), and Lighthouse drives Debian's chromium (CHROME_PATH, default
/usr/bin/chromium) headless. One Lighthouse run per page kind, in turn; scores are 0-100. Needs `make node`.

    .venv/bin/python bench/bench_lighthouse.py [--site site] [--json] [--keep DIR]

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


def serve(site: Path) -> http.server.ThreadingHTTPServer:
    """A static file server for `site` on 127.0.0.1 and a free port, in a daemon thread."""
    handler = functools.partial(_Quiet, directory=str(site.resolve()))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def lighthouse(url: str, out: Path, chrome: str) -> dict:
    cmd = [str(LIGHTHOUSE), url, "--preset=desktop", "--output=json", f"--output-path={out}", "--quiet",
           "--chrome-flags=--headless=new --no-sandbox --disable-gpu"]
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
    args = ap.parse_args()
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not LIGHTHOUSE.exists() or not Path(chrome).exists() or not (args.site / "index.html").is_file():
        print(f"skipped: needs {LIGHTHOUSE.relative_to(ROOT)} (make node), {chrome} and a built site at {args.site}")
        return 0
    srv = serve(args.site)
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    out_dir = Path(tempfile.mkdtemp(prefix="lighthouse-"))
    results = {}
    try:
        for kind, path in PAGES.items():
            report = out_dir / f"{kind.replace(' ', '-')}.json"
            results[kind] = {"path": path, **lighthouse(base + path, report, chrome)}
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(report, args.keep / report.name)
    finally:
        srv.shutdown()
        shutil.rmtree(out_dir, ignore_errors=True)
    met = all(r["scores"][c] >= t for r in results.values() for c, t in TARGETS.items())
    if args.json:
        print(json.dumps({"results": results, "targets": TARGETS, "met": met}, indent=1))
        return 0
    print("| page kind | performance | accessibility | best practices | SEO | page view KB | failing audits |")
    print("|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        s = r["scores"]
        print(f"| {kind} | {s['performance']} | {s['accessibility']} | {s['best-practices']} | {s['seo']} | "
              f"{r['bytes'] / 1024:,.0f} | {', '.join(r['failing_binary_audits']) or '—'} |")
    print(f"targets {TARGETS}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
