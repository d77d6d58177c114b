#!/usr/bin/env python3
"""Benchmark the site build (`mkdocs build --strict` with the iamkb hook) for both profiles: time and size.

For each profile the KB is built once into a temporary folder (fetch from the cache or mirror, then build-kb),
then the site is built from it `--repeat` times; each run reports wall seconds, CPU seconds of the build
process (user + system: steadier than wall time on a shared machine), the site's size, its pages and the mean
and largest page. `--compare DIR` builds a second checkout (e.g. `git worktree add ../main-wt main`) from the
same KB in the same run, alternating with this one, so the two can be compared as a ratio. `--no-search` adds
runs without Material's search plugin (what the build costs once the in-page search replaces it).

    .venv/bin/python bench/bench_site.py --profiles default full --repeat 2 [--compare ../main-wt] [--no-search]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iamkb.site.weight import site_size  # noqa: E402

NO_SEARCH = "INHERIT: mkdocs.yml\nplugins: []\n"


def build_kb(profile: str, build: Path) -> None:
    env = {**os.environ, "IAMKB_BUILD": str(build)}
    for step in (["fetch", "--profile", profile], ["build-kb", "--profile", profile]):
        subprocess.run([sys.executable, "-m", "iamkb.cli", *step], env=env, cwd=ROOT, check=True,
                       capture_output=True)


def build_site(root: Path, build: Path, out: Path, search: bool) -> dict:
    """One `mkdocs build --strict` of the checkout at `root` (its own iamkb package first on the path)."""
    env = {**os.environ, "IAMKB_BUILD": str(build), "PYTHONPATH": str(root), "NO_MKDOCS_2_WARNING": "1"}
    config = root / "mkdocs.yml"
    if not search:
        config = root / ".bench-no-search.yml"
        config.write_text(NO_SEARCH, encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "--site-dir",
                        str(out)], env=env, cwd=root, check=True, capture_output=True)
    finally:
        if not search:
            config.unlink()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = site_size(out)
    pages = [(p.stat().st_size, p.relative_to(out).as_posix()) for p in out.rglob("index.html")]
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "mb": size.total_bytes / 1e6, "pages": size.pages, "mean_kb": size.mean_page_bytes / 1e3,
            "largest_page": max(pages)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["default", "full"])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--compare", type=Path, help="another checkout to build from the same KB, alternating")
    ap.add_argument("--no-search", action="store_true", help="also build without Material's search plugin")
    args = ap.parse_args()
    trees = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    variants = [(name, root, True) for name, root in trees]
    if args.no_search:
        variants += [(f"{name}, no search plugin", root, False) for name, root in trees]
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f}; python {sys.version.split()[0]}")
    print("| profile | tree | pages | wall s | CPU s | site MB | mean page KB | largest page |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for profile in args.profiles:
            build = Path(tmp) / f"kb-{profile}"
            build_kb(profile, build)
            runs: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
            for i in range(args.repeat):
                for name, root, search in variants:
                    out = Path(tmp) / f"site-{profile}-{i}-{len(runs[name])}-{abs(hash(name))}"
                    runs[name].append(build_site(root, build, out, search))
                    subprocess.run(["rm", "-rf", str(out)], check=True)
            for name, results in runs.items():
                best = min(results, key=lambda r: r["cpu_s"])
                kb, path = best["largest_page"]
                print(f"| {profile} | {name} | {best['pages']:,} | {min(r['wall_s'] for r in results):.1f} | "
                      f"{best['cpu_s']:.1f} | {best['mb']:.1f} | {best['mean_kb']:.1f} | {kb / 1e3:.0f} KB {path} |")
    print(f"best of {args.repeat}; load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
