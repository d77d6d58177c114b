#!/usr/bin/env python3
"""Benchmark fetch + parse + build of the knowledge base, for both profiles.

Each run uses a fresh cache and build folder in a temp dir (so fetch really copies and verifies every page from
the mirror), then a second fetch that hits the warm cache. Figures: wall seconds per step, pages per second, peak
RSS. Usage: .venv/bin/python bench/bench_build.py [--profiles default full] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IAMKB = [sys.executable, "-m", "iamkb.cli"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - start


def run_profile(profile: str, extra: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "IAMKB_CACHE": f"{tmp}/cache", "IAMKB_BUILD": f"{tmp}/build"}
        cold = timed([*IAMKB, "fetch", "--offline", "--profile", profile], env)
        warm = timed([*IAMKB, "fetch", "--offline", "--profile", profile], env)
        build = timed([*IAMKB, "build-kb", "--profile", profile, *extra], env)
        report = json.loads(Path(f"{tmp}/build/report.json").read_text())
        size = sum(p.stat().st_size for p in Path(f"{tmp}/build").iterdir())
    return {"pages": report["pages"], "sections": report["sections"], "fetch_cold_s": cold, "fetch_warm_s": warm,
            "build_s": build, "total_s": cold + build, "kb_mb": size / 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profiles", nargs="+", default=["default", "full"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--base-only", action="store_true", help="parse stage only (no reference tables, no catalog)")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    print("| profile | pages | sections | fetch cold s | fetch warm s | build-kb s | fetch+build s | KB MB |")
    print("|---|---|---|---|---|---|---|---|")
    for profile in args.profiles:
        runs = [run_profile(profile, ["--base-only"] if args.base_only else []) for _ in range(args.repeat)]
        best = {k: min(r[k] for r in runs) for k in runs[0]}
        print(f"| {profile} | {best['pages']:.0f} | {best['sections']:.0f} | {best['fetch_cold_s']:.2f} | "
              f"{best['fetch_warm_s']:.2f} | {best['build_s']:.2f} | {best['total_s']:.2f} | {best['kb_mb']:.1f} |")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of any child process: {peak:.0f} MB (best of {args.repeat} runs per profile)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
