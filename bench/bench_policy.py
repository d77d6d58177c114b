"""Benchmark: evaluations per second in batch mode, iamkb vs iam-simulate, on the same scenarios in one run.

    .venv/bin/python bench/bench_policy.py [--scenarios 2000] [--repeat 3]

Scenarios are the differential test's seeded batch (tests/oracle/strategies.py `generate`: distinct scenarios
around the Auto Scaling actions and condition keys, with boundaries, SCP levels, resource and session policies),
each with its own policy objects; almost every policy in it is distinct, so content caching gains little here.
Both sides are timed on the evaluation loop only, cold each repeat: iamkb's `evaluate_many` (validate + compile +
decide) after its memo caches and `re`'s cache are cleared, and the oracle's loop over `runSimulation` in a fresh
node process (validation + evaluation; node startup and JSON parsing excluded). The two sides alternate within
each repeat, so both see the same machine load; the best of --repeat runs is reported for each side. Explanations
are built lazily, so `iamkb_with_explain_per_second` also times `to_json()` of every decision (what
`iamkb simulate --json` prints).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from oracle.oracle import run_oracle  # noqa: E402
from oracle.strategies import generate  # noqa: E402

from iamkb.policy.evaluate import clear_caches, evaluate_many  # noqa: E402


def _cold() -> None:
    clear_caches()
    re.purge()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batch = generate(args.scenarios)
    ours_best = explain_best = theirs_best = float("inf")
    agree = 0
    for _ in range(args.repeat):
        _cold()
        start = time.perf_counter()
        decisions = [d.decision for d in evaluate_many(batch)]
        ours_best = min(ours_best, time.perf_counter() - start)
        _cold()
        start = time.perf_counter()
        explained = [d.to_json() for d in evaluate_many(batch)]
        explain_best = min(explain_best, time.perf_counter() - start)
        assert [e["decision"] for e in explained] == decisions
        timed = run_oracle(batch, timing=True)
        theirs_best = min(theirs_best, timed["seconds"])
        agree = sum(o == t["decision"] for o, t in zip(decisions, timed["results"], strict=True))
    result = {
        "scenarios": len(batch), "agree": agree,
        "iamkb_per_second": round(len(batch) / ours_best),
        "iamkb_with_explain_per_second": round(len(batch) / explain_best),
        "iam_simulate_per_second": round(len(batch) / theirs_best),
        "speedup": round(theirs_best / ours_best, 1), "python": platform.python_version(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
