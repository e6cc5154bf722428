"""``make bench-create``: POST /api/v1/payments under wrk, each request with its own
Idempotency-Key, on one order, at several concurrencies.

wrk (a C load generator) does the load, so the figures measure the gateway and not a Python
client sharing its cores. The gateway runs in TEST_MODE with TEST_PAYMENT_SUCCESS=false: the
payments settle (fail) during the run, as real traffic would, and the order is never paid, so
every create is a 201. Prints req/s, p50, p99, non-2xx and the gateway's peak RSS and PSS per
run (RSS counts a page shared by several processes once in each, PSS divides it), then the
CPU time each process spent per create (the gateway's API and worker processes, PostgreSQL,
Redis, and wrk itself): on a machine whose cores the benchmark fills, that sum bounds req/s,
and it moves far less from run to run than req/s does.

Usage: DATABASE_URL=... REDIS_URL=... python bench/create.py [--seconds 20]
       [--concurrency 1,16,64] [--mode serve|split] [--processes N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import threading
import time
import urllib.request

from gateways import cpu_seconds, free_port, gateway, service_pids, tree_pss_mb, tree_rss_mb

AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789",
        "Content-Type": "application/json"}
# TEST_MODE settings that the reference gateway reads too: every payment fails 1 s after its
# create, so the order stays payable and every create is a 201.
TEST_SETTINGS = {"TEST_MODE": "true", "TEST_PROCESSING_DELAY": "1000",
                 "TEST_PAYMENT_SUCCESS": "false"}
HERE = os.path.dirname(os.path.abspath(__file__))


def make_order(base: str) -> str:
    req = urllib.request.Request(base + "/api/v1/orders", data=b'{"amount": 50000}',
                                 headers=AUTH, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(json.load(r)["id"])


def wrk_creates(base: str, order_id: str, seconds: int, connections: int,
                tag: str) -> dict[str, float]:
    """``bench/create_payment.lua`` under wrk against ``order_id`` for ``seconds``: the fields
    of the script's RESULT line (requests, non2xx, duration_us, p50_us, p99_us, ...)."""
    threads = max(1, min(2, connections))
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "-s", os.path.join(HERE, "create_payment.lua"), base, "--", tag],
        env={**os.environ, "ORDER_ID": order_id}, capture_output=True, text=True,
        timeout=seconds + 60, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    return {k: float(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def run_wrk(base: str, order_id: str, seconds: int, connections: int, pids: list[int],
            tag: str, roots: list[tuple[str, int]]) -> dict[str, float]:
    peak = [0.0, 0.0]  # RSS, PSS of the gateway's process trees
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            peak[0] = max(peak[0], sum(tree_rss_mb(p) for p in pids))
            peak[1] = max(peak[1], sum(tree_pss_mb(p) for p in pids))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = cpu_seconds(roots)
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = wrk_creates(base, order_id, seconds, connections, tag)
    cpu_after = cpu_seconds(roots)
    # wrk is the only child to exit in between: its time is the load generator's cost.
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_after["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime
                        - wrk_before.ru_utime - wrk_before.ru_stime)
    stop.set()
    sampler.join()
    return {"rps": fields["requests"] / (fields["duration_us"] / 1e6),
            "p50_ms": fields["p50_us"] / 1000, "p99_ms": fields["p99_us"] / 1000,
            "non2xx": fields["non2xx"],
            "errors": fields["connect_errors"] + fields["read_errors"]
            + fields["write_errors"] + fields["timeouts"],
            "requests": fields["requests"], "rss_mb": peak[0], "pss_mb": peak[1],
            **{f"cpu {k}": (cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / fields["requests"]
               for k in cpu_after if fields["requests"]}}


def paystate_env(port: int) -> dict[str, str]:
    return {**TEST_SETTINGS, "PAYSTATE_STREAM_PREFIX": f"benchcreate{port}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--mode", choices=["serve", "split"], default="serve")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    port = free_port()
    env = paystate_env(port)
    base = f"http://127.0.0.1:{port}"
    print(f"POST /api/v1/payments, unique Idempotency-Key, wrk {args.seconds}s per run; "
          f"gateway: {args.mode}, {args.processes} HTTP process(es)")
    print(f"{'c':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}"
          f" {'RSS MB':>7} {'PSS MB':>7}")
    with gateway(args.mode, port, env, args.processes) as pids:
        order_id = make_order(base)
        # A short warm-up: connections, caches and JIT-free Python paths all settle first.
        roots = [("gateway", p) for p in pids] + service_pids(os.environ["DATABASE_URL"],
                                                              os.environ["REDIS_URL"])
        run_wrk(base, order_id, 3, 16, pids, "warmup", roots)
        cpu: dict[int, dict[str, float]] = {}
        for c in (int(x) for x in args.concurrency.split(",")):
            r = run_wrk(base, order_id, args.seconds, c, pids, f"c{c}-{time.time_ns()}", roots)
            print(f"{c:>4} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
                  f" {r['non2xx']:>8.0f} {r['errors']:>7.0f} {r['rss_mb']:>7.0f}"
                  f" {r['pss_mb']:>7.0f}", flush=True)
            cpu[c] = {k[4:]: v for k, v in r.items() if k.startswith("cpu ")}
    groups = sorted({g for per in cpu.values() for g in per if not g.endswith("gone")})
    print("CPU ms per create (the supervisor's own time is under gateway serve/api):")
    print(f"{'c':>4} " + " ".join(f"{g:>16}" for g in groups) + f" {'total':>8}")
    for c, per in cpu.items():
        print(f"{c:>4} " + " ".join(f"{per.get(g, 0.0):>16.3f}" for g in groups)
              + f" {sum(per.values()):>8.3f}")


if __name__ == "__main__":
    main()
