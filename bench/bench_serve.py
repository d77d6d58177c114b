"""Loopback load test of `iamkb serve`: N requests, C at a time, latency percentiles per endpoint.

Starts the server in-process on 127.0.0.1 (a free port) over the built site, sends a fixed mix of requests
(static page, search, ask, simulate, check), and stops by itself. Only loopback traffic.

    .venv/bin/python bench/bench_serve.py --requests 2000 --concurrency 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iamkb.serve import make_server  # noqa: E402
from iamkb.site.build import cached_site  # noqa: E402

# The same request as the API tests: a delete of a scaling policy on a production group.
SCENARIO = json.loads((Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "delete_policy_scenario.json").read_text())
MIX = [  # (name, method, path, body)
    ("static", "GET", "/reference/actions/autoscaling/DeletePolicy/", None),
    ("search", "GET", "/api/search?q=DeletePolicy+production&limit=10", None),
    ("ask", "GET", "/api/ask?q=how+do+I+stop+people+deleting+scaling+policies", None),
    ("simulate", "POST", "/api/simulate", json.dumps(SCENARIO)),
    ("check", "POST", "/api/check", json.dumps(SCENARIO["identityPolicies"][0])),
]


def one(address, item) -> tuple[str, float, int]:
    name, method, path, body = item
    start = time.perf_counter()
    conn = http.client.HTTPConnection(*address, timeout=60)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return name, time.perf_counter() - start, resp.status


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    srv = make_server(cached_site(), port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    address = srv.server_address[:2]
    for item in MIX:  # warm up: open the index, load the reference
        one(address, item)
    items = [MIX[i % len(MIX)] for i in range(args.requests)]
    start = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(lambda it: one(address, it), items))
    wall = time.perf_counter() - start
    srv.shutdown()
    srv.server_close()
    errors = sum(status != 200 for _, _, status in results)
    print(f"{args.requests} requests, {args.concurrency} concurrent, {wall:.1f} s, "
          f"{args.requests / wall:.0f} req/s, {errors} errors")
    print(f"{'endpoint':<10} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name in [m[0] for m in MIX] + ["all"]:
        lat = [t for n, t, _ in results if name in (n, "all")] if name != "all" else [t for _, t, _ in results]
        print(f"{name:<10} {len(lat):>5} {pct(lat, 50):>8.1f} {pct(lat, 90):>8.1f} {pct(lat, 99):>8.1f} "
              f"{max(lat) * 1000:>8.1f}  (mean {statistics.mean(lat) * 1000:.1f})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
