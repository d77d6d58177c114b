"""Benchmark: `iamkb simulate` over a large batch, as a JSON list and as JSON Lines, beside iam-simulate.

    .venv/bin/python bench/bench_simulate_batch.py [--scenarios 10000] [--flat 40000] [--repeat 3]

Scenarios are the differential test's seeded batch (tests/oracle/strategies.py `generate`: distinct scenarios
around the Auto Scaling actions, one in eight anonymous), written once as a JSON list and as JSON Lines. Each row
is a whole process, from start to its last byte written to a file: `iamkb simulate --json` (decode, check,
compile, decide, explain, write), and tests/oracle/simulate.cjs (iam-simulate, node: read stdin, JSON.parse,
runSimulation per scenario, JSON.stringify of the results); its own timing of the evaluation loop alone is
reported too. Peak RSS is the process's own high-water mark (wait4's ru_maxrss), taken by a small launcher
(LAUNCHER) that forks and waits for it: ru_maxrss also counts the memory a process was forked from, so measured
from this script it would include this script's own; through the launcher the floor is an idle Python (reported
as `floor`: `python -c pass` through the same launcher). The rows alternate within each repeat, so all see the
same machine load; the best wall time of --repeat runs and the largest peak RSS are reported.

Two more rows show what the design choices buy: `--flat` scenarios as JSON Lines (memory should not grow with the
number of lines), and the list the way `iamkb simulate` handled it before and the API still does (`simulate_text`:
every result kept, then one dump, with the cycle collector running).
A last measurement, in this process, compares two ways to decode a list for the per-policy size limit: json.loads
then measuring every policy (json.dumps), against reading element by element (raw_decode), which knows each
scenario's text length and measures policies only inside a scenario larger than the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from oracle.oracle import HARNESS  # noqa: E402
from oracle.strategies import generate  # noqa: E402

from iamkb.policy.simulate import decode, scenario_policies  # noqa: E402

# Runs argv in a forked child and reports the child's peak RSS (KB) as its last line on stderr.
LAUNCHER = ("import os, sys\npid = os.fork()\nif pid == 0:\n    os.execvp(sys.argv[1], sys.argv[1:])\n"
            "_, status, usage = os.wait4(pid, 0)\nsys.stderr.write(f'\\nmaxrss {usage.ru_maxrss}\\n')\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")

# The API's path (simulate_text, which `iamkb simulate --json LIST` took before): every result kept, one dump.
OLD_LIST = ("import json, sys\nfrom iamkb.policy.simulate import simulate_text\n"
            "json.dump(simulate_text(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1]), sys.stdout)\n"
            "sys.stdout.write('\\n')\n")


def run(cmd: list[str], stdin: Path | None, stdout: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one process, its output written to a file."""
    with open(stdin or os.devnull, "rb") as inp, open(stdout, "wb") as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], stdin=inp, stdout=out, stderr=err,
                              cwd=ROOT).returncode
        wall = time.perf_counter() - start
        err.seek(0)
        text = err.read().decode()
    if code:
        raise SystemExit(f"{' '.join(cmd)} failed: {text[:500]}")
    return wall, int(text.rsplit("maxrss ", 1)[1]) / 1024


def decisions(path: Path, lines: bool) -> list[str]:
    text = path.read_text(encoding="utf-8")
    results = [json.loads(line) for line in text.splitlines()] if lines else json.loads(text)
    return [r["decision"] for r in results]


def decode_costs(text: str, repeat: int) -> dict[str, float]:
    """Seconds to decode a list and apply the per-policy limit, both ways (best of `repeat`)."""
    def loads_and_measure() -> None:
        for scenario in json.loads(text):
            for _, doc in scenario_policies(scenario):
                len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))

    def by_element() -> None:
        decode(text, "bench")  # every scenario here is far under the limit: no policy is measured

    best = {}
    for name, fn in (("json.loads + json.dumps of every policy", loads_and_measure),
                     ("raw_decode element by element", by_element)):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        best[name] = round(min(times), 3)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=10000)
    parser.add_argument("--flat", type=int, default=40000, help="scenarios of the flat-memory JSON Lines row")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, many = args.scenarios, args.flat
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        as_list, as_lines, flat = work / "batch.json", work / "batch.jsonl", work / "flat.jsonl"
        batch = generate(n)
        as_list.write_text(json.dumps(batch), encoding="utf-8")
        as_lines.write_text("".join(json.dumps(s) + "\n" for s in batch), encoding="utf-8")
        del batch
        flat.write_text("".join(json.dumps(s) + "\n" for s in generate(many, seed=7)), encoding="utf-8")
        _, floor = run([sys.executable, "-c", "pass"], None, work / "out")
        iamkb = [sys.executable, "-m", "iamkb.cli", "simulate", "--json"]
        rows = {
            "iamkb simulate --json LIST": (iamkb + [str(as_list)], None, n),
            "iamkb simulate --json LINES.jsonl": (iamkb + [str(as_lines)], None, n),
            "iam-simulate (node harness), LIST on stdin": (["node", str(HARNESS), "--timing"], as_list, n),
            f"iamkb simulate --json LINES.jsonl, {many:,} lines": (iamkb + [str(flat)], None, many),
            "simulate_text (the API path): all results kept, one dump, collector on (LIST)": (
                [sys.executable, "-c", OLD_LIST, str(as_list)], None, n),
        }
        best: dict[str, list[float]] = {name: [float("inf"), 0.0] for name in rows}
        oracle_loop = float("inf")
        for _ in range(args.repeat):
            for name, (cmd, stdin, _count) in rows.items():
                out = work / "out"
                wall, rss = run(cmd, stdin, out)
                best[name] = [min(best[name][0], wall), max(best[name][1], rss)]
                if name.startswith("iam-simulate"):
                    timed = json.loads(out.read_text(encoding="utf-8"))
                    oracle_loop = min(oracle_loop, timed["seconds"])
                    theirs = [r["decision"] for r in timed["results"]]
                elif name == "iamkb simulate --json LIST":
                    ours_list = decisions(out, lines=False)
                elif name == "iamkb simulate --json LINES.jsonl":
                    ours_lines = decisions(out, lines=True)
        text = as_list.read_text(encoding="utf-8")
        sizes = {"list MB": round(as_list.stat().st_size / 1e6, 1), "lines MB": round(as_lines.stat().st_size / 1e6, 1),
                 f"{many:,} lines MB": round(flat.stat().st_size / 1e6, 1)}
    result = {
        "scenarios": n, "inputs": sizes, "floor_rss_mb": round(floor),
        "rows": {name: {"seconds": round(best[name][0], 2), "scenarios_per_second": round(count / best[name][0]),
                        "peak_rss_mb": round(best[name][1])} for name, (_, _, count) in rows.items()},
        "iam_simulate_evaluation_loop": {"seconds": round(oracle_loop, 2),
                                         "scenarios_per_second": round(n / oracle_loop)},
        "list_and_lines_agree": ours_list == ours_lines,
        "agree_with_iam_simulate": sum(o == t for o, t in zip(ours_list, theirs, strict=True)),
        "decode_list_seconds": decode_costs(text, args.repeat),
        "load_average": round(os.getloadavg()[0], 1), "python": platform.python_version(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
