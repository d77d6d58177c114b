"""Python side of the oracle: run scenarios through tests/oracle/simulate.cjs (iam-simulate) in one node process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HARNESS = Path(__file__).with_name("simulate.cjs")
ROOT = HARNESS.parent.parent.parent


def run_oracle(scenarios: list[dict], timing: bool = False) -> list[dict] | dict:
    """One node process for the whole batch; returns its result list (or {"results", "seconds"} with timing)."""
    args = ["node", str(HARNESS)] + (["--timing"] if timing else [])
    proc = subprocess.run(args, input=json.dumps(scenarios), capture_output=True, text=True, cwd=ROOT,
                          check=True, timeout=1800)
    return json.loads(proc.stdout)
