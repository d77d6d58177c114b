"""Benchmark: evaluations per second in batch mode, iamkb vs iam-simulate, on the same scenarios in one run.

    .venv/bin/python bench/bench_policy.py [--scenarios 2000] [--repeat 3]

Scenarios come from the differential test's hypothesis strategy (tests/oracle/strategies.py: Auto Scaling actions
and condition keys, with boundaries, SCP levels, resource and session policies). Both sides are timed on the
evaluation loop only: iamkb's `evaluate_many` (validate + compile + decide + explain every scenario, each with
its own policy objects) and the oracle's loop over `runSimulation` in one node process (validation + evaluation;
node startup and JSON parsing excluded). The best of --repeat runs is reported for each side.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from oracle.oracle import run_oracle  # noqa: E402
from test_policy_generated import collect  # noqa: E402

from iamkb.policy.evaluate import evaluate_many  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batch = collect(args.scenarios)
    ours_best = theirs_best = float("inf")
    agree = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        decisions = [d.decision for d in evaluate_many(batch)]
        ours_best = min(ours_best, time.perf_counter() - start)
        timed = run_oracle(batch, timing=True)
        theirs_best = min(theirs_best, timed["seconds"])
        agree = sum(o == t["decision"] for o, t in zip(decisions, timed["results"], strict=True))
    result = {
        "scenarios": len(batch), "agree": agree,
        "iamkb_per_second": round(len(batch) / ours_best), "iam_simulate_per_second": round(len(batch) / theirs_best),
        "speedup": round(theirs_best / ours_best, 1), "python": platform.python_version(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
