#!/usr/bin/env python3
"""Run every benchmark under bench/ (bench_*.py) in turn; each prints its own table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
failed = 0
for script in sorted(here.glob("bench_*.py")):
    print(f"\n## {script.name}\n", flush=True)
    failed |= subprocess.run([sys.executable, str(script)], cwd=here.parent).returncode
sys.exit(1 if failed else 0)
