#!/usr/bin/env python3
"""Benchmark the search index build: the lexical index alone, the whole index from scratch, and the sentence
vectors' throughput (seconds per 1,000 texts) in one process against one worker process per core.

Each index build runs in a fresh folder (no previous generation, so every vector is computed), as on a fresh
checkout, in a child process timed by wall clock. The throughput rows embed the same sample of the index's own
texts (documents and passages, in their real mix of lengths) both ways, in this process, alternating, best of
--repeat. Usage (after `make kb`): .venv/bin/python bench/bench_index.py [--sample 1000] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import json, sys, time
from pathlib import Path
from iamkb.search.build import build_index
started = time.perf_counter()
counts = build_index(target=Path(sys.argv[1]), vectors=sys.argv[2] == "full", progress=lambda d, t: None)
print(json.dumps({"seconds": time.perf_counter() - started, "documents": sum(counts.values())}))
"""


def timed_build(kind: str) -> dict:
    """One index build from scratch in a child process: wall seconds and the child's peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", SCRIPT, str(Path(tmp) / "index"), kind], cwd=ROOT,
                             check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
    made = json.loads(out.stdout.strip().splitlines()[-1])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"what": f"index from scratch, {kind}", "wall_s": round(wall, 1), "build_s": round(made["seconds"], 1),
            "documents": made["documents"], "peak_rss_mb_any_child": round(rss)}


def texts_of_the_index() -> list[str]:
    from iamkb import paths
    from iamkb.search import semantic
    from iamkb.search.build import SECTION_QUESTIONS, all_docs, load_kb, load_section_questions

    kb = load_kb(paths.build_dir())
    docs = all_docs(kb, load_section_questions(paths.kb_dir() / SECTION_QUESTIONS).questions)
    return [t for d in docs if (t := semantic.embedding_text(d))] + [t for _, t in semantic.passage_items(docs)]


def throughput(sample: list[str], repeat: int) -> list[dict]:
    from iamkb.search import embed

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        embed.install_model(folder)
        best: dict[str, float] = {}
        for _ in range(repeat):
            for name, workers in (("one process, BLAS on every core", 1), ("one worker per core", None)):
                start = time.perf_counter()
                embed.embed_in_workers(folder, sample, workers=workers)
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    return [{"what": f"embedding, {name}", "texts": len(sample), "seconds": round(s, 1),
             "s_per_1000_texts": round(1000 * s / len(sample), 1)} for name, s in best.items()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=1000, help="texts embedded for the throughput rows")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-builds", action="store_true", help="only the throughput rows")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    texts = texts_of_the_index()
    rows = []
    if not args.no_builds:
        rows += [timed_build("lexical"), timed_build("full")]
    rows += throughput(random.Random(7).sample(texts, min(args.sample, len(texts))), args.repeat)
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"texts_in_index": len(texts), "load": load, "rows": rows}, indent=1))
        return 0
    print(f"texts the index embeds: {len(texts):,}; cores: {os.cpu_count()}; load average {load:.1f}")
    for r in rows:
        print("  " + ", ".join(f"{k}: {v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
