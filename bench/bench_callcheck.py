"""Benchmark: whole calls checked per second by `iamkb can-i` (iamkb.callcheck), against the policy engine alone
on the same requests, in one run.

    .venv/bin/python bench/bench_callcheck.py [--repeat 3]

The calls are the test suite's (tests/test_callcheck.py): each of its calls with a policy set that grants every
requirement by its own statement, every context key pinned (allowed), and once more without each rule's statements
(denied: the fix is searched for and verified by evaluating again); and each call with a small policy such as
people write (two statements: most calls denied for the key policy, the service-linked role or VPC Lattice). Timed per batch (the 9-call batches ten times over), best of --repeat: `Checker.check` of every call (input validation against
the KB's JSON Schemas, deriving the requirements, evaluating them, the fix and its verification for denied calls),
and `evaluate_many` of the same calls' requirement scenarios alone (what the engine costs without the rest). Also
the whole `iamkb can-i --json` process for one call (Python start, KB rules read, one check).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from test_callcheck import CALLS, grant_everything, without  # noqa: E402

from iamkb.callcheck import Checker, load_rules  # noqa: E402
from iamkb.policy import evaluate_many  # noqa: E402
from iamkb.policy.evaluate import clear_caches  # noqa: E402

# A policy such as people write: broad Auto Scaling and launch permissions, PassRole to the two services.
SMALL_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["autoscaling:*", "ec2:RunInstances", "ec2:CreateTags", "ec2:Describe*"],
     "Resource": "*"},
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
     "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "autoscaling.amazonaws.com"]}}}]}


def batches(checker: Checker) -> tuple[list[dict], list[dict]]:
    """(calls a policy set fully allows, calls missing one rule's statements)."""
    allowed, denied = [], []
    for obj in CALLS.values():
        full, placed = grant_everything(obj, checker.check(obj)["requirements"])
        allowed.append(full)
        denied += [without(full, links) for links in placed.values()]
    return allowed, denied


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        clear_caches()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checker = Checker(load_rules())
    allowed, denied = batches(checker)
    calls = allowed + denied
    scenarios = []
    for obj in calls:
        call, outcomes = checker.outcomes(obj)
        scenarios += [checker.scenario(call, o.req) for o in outcomes]
    small = [{**obj, "identityPolicies": [SMALL_POLICY]} for obj in CALLS.values()]
    small_results = [checker.check(o) for o in small]
    t_small = timed(lambda: [checker.check(o) for o in small * 10], args.repeat) / 10
    t_allowed = timed(lambda: [checker.check(o) for o in allowed * 10], args.repeat) / 10
    t_denied = timed(lambda: [checker.check(o) for o in denied], args.repeat)
    t_all = timed(lambda: [checker.check(o) for o in calls], args.repeat)
    t_engine = timed(lambda: evaluate_many(scenarios), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "call.json"
        path.write_text(json.dumps(denied[0]))
        cmd = [str(ROOT / ".venv" / "bin" / "iamkb"), "can-i", "--json", str(path)]
        t_cli = timed(lambda: subprocess.run(cmd, capture_output=True, check=False), args.repeat)
    result = {
        "calls": len(calls), "allowed_calls": len(allowed), "denied_calls": len(denied),
        "requirements": len(scenarios),
        "calls_per_second": round(len(calls) / t_all),
        "allowed_calls_per_second": round(len(allowed) / t_allowed),
        "denied_calls_per_second": round(len(denied) / t_denied),
        "small_policy_calls": len(small),
        "small_policy_denied": sum(r["verdict"] == "Denied" for r in small_results),
        "small_policy_calls_per_second": round(len(small) / t_small),
        "engine_requests_per_second": round(len(scenarios) / t_engine),
        "engine_share_of_check": round(t_engine / t_all, 2),
        "cli_one_call_seconds": round(t_cli, 3),
        "python": platform.python_version(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
