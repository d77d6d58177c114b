#!/usr/bin/env python3
"""Benchmark a new user's first run: `make serve` and `make test` in a fresh clone of this checkout.

`serve`: clones the committed HEAD into a new folder, runs `make serve` there (venv, installs, fetch, KB, site,
then the server, which builds the index in the background), and times, from the start of `make`, when the site
answers, when /api/ask answers (lexically at first), when its answer says "ranking": "full" (the vectors
built) and when the site's in-page search data has been exported again with the static token vectors
("page_static"); then stops the server. `test`: times `make test` in another fresh clone. The sources mirror is the one
this checkout uses (`iamkb.paths.default_mirror`), passed as IAMKB_SOURCES. pip's and npm's caches are whatever
this machine has (a machine that never installed the pins downloads them first).

Usage: .venv/bin/python bench/bench_first_run.py [serve] [test] [--port 8765] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iamkb.paths import default_mirror  # noqa: E402


def fresh_clone(into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(into)], check=True)
    return into


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except Exception:  # noqa: BLE001 - not up yet
        return 0, b""


def time_serve(folder: Path, port: int, env: dict[str, str], limit: float = 3600) -> dict[str, float | None]:
    start = time.monotonic()
    log = open(folder / "serve.log", "w")  # noqa: SIM115 - kept open for the server's lifetime
    proc = subprocess.Popen(["make", "serve", f"PORT={port}"], cwd=folder, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    marks: dict[str, float | None] = {"site": None, "ask_lexical": None, "ask_full": None, "page_static": None}
    data = folder / "site" / "search" / "iamkb-data.js"
    base = f"http://127.0.0.1:{port}"
    try:
        while time.monotonic() - start < limit and proc.poll() is None:
            if marks["site"] is None and get(base + "/")[0] == 200:
                marks["site"] = time.monotonic() - start
            if marks["site"] is not None:
                status, body = get(base + "/api/ask?q=who+may+delete+scaling+policies", timeout=30)
                if status == 200:
                    ranking = json.loads(body).get("ranking")
                    if marks["ask_lexical"] is None:
                        marks["ask_lexical"] = time.monotonic() - start
                    if ranking == "full" and marks["ask_full"] is None:
                        marks["ask_full"] = time.monotonic() - start
            if marks["page_static"] is None and data.exists() and '\\"space\\":\\"static\\"' in data.read_text("utf-8")[:400]:
                marks["page_static"] = time.monotonic() - start
            if marks["ask_full"] is not None and marks["page_static"] is not None:
                break
            time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return {k: round(v, 1) if v is not None else None for k, v in marks.items()}


def time_test(folder: Path, env: dict[str, str]) -> dict[str, float | int]:
    start = time.monotonic()
    proc = subprocess.run(["make", "test"], cwd=folder, env=env, capture_output=True, text=True)
    (folder / "test.log").write_text(proc.stdout + proc.stderr)
    return {"seconds": round(time.monotonic() - start, 1), "exit": proc.returncode,
            "summary": (proc.stdout.strip().splitlines() or [""])[-1]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="*", choices=("serve", "test"), default=["serve", "test"])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--keep", action="store_true", help="keep the clones (their logs: serve.log, test.log)")
    args = ap.parse_args()
    env = {**os.environ}
    env.pop("VIRTUAL_ENV", None)
    mirror = default_mirror()
    if mirror is not None:
        env["IAMKB_SOURCES"] = str(mirror)
    out: dict[str, object] = {"commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                      capture_output=True, text=True).stdout.strip(),
                              "load_before": round(os.getloadavg()[0], 1)}
    work = Path(tempfile.mkdtemp(prefix="iamkb-first-run-"))
    try:
        if "serve" in args.what:
            out["make serve"] = time_serve(fresh_clone(work / "serve"), args.port, env)
        if "test" in args.what:
            out["make test"] = time_test(fresh_clone(work / "test"), env)
    finally:
        if args.keep:
            print(f"clones kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
