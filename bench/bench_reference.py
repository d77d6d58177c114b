"""Benchmark the reference stage: reference_stage on the built KB, load_reference, and lookup CLI calls.

Run after `make kb`:  .venv/bin/python bench/bench_reference.py [--repeat 5]
Prints one JSON object of median timings (seconds); copy the figures into bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return round(statistics.median(runs), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from iamkb.paths import build_dir
    from iamkb.refdata import load_reference
    from iamkb.reference import reference_stage

    build = build_dir()
    kb = {n: json.loads((build / f"{n}.json").read_text(encoding="utf-8")) for n in ("pages", "sections", "examples")}
    ref = load_reference(build)
    iamkb = str(ROOT / ".venv" / "bin" / "iamkb")
    result = {
        "sections": len(kb["sections"]), "examples": len(kb["examples"]), "actions": len(ref.actions),
        "reference_stage_s": timed(lambda: reference_stage(kb), args.repeat),
        "load_reference_s": timed(lambda: load_reference(build), args.repeat),
        "actions_matching_ec2_describe_s": timed(lambda: ref.actions_matching("ec2:Describe*"), args.repeat),
        "cli_action_s": timed(lambda: subprocess.run([iamkb, "action", "autoscaling:CreateAutoScalingGroup",
                                                      "--json"], capture_output=True, check=True), args.repeat),
        "cli_drift_s": timed(lambda: subprocess.run([iamkb, "drift", "--json"], capture_output=True, check=True),
                             args.repeat),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
