"""Chaos under load: faults at random moments while orders, payments, captures, refunds and
webhook deliveries flow, then proof from PostgreSQL and the merchant's side that nothing was
lost, doubled or left half-done.

For ``MINUTES`` (default 3): a few asyncio flows drive two ``paystate api`` processes
(``bench/chaos_load.py``); two ``paystate worker`` processes settle and deliver webhooks to a
receiver in its own process that answers 500 to 30% of attempts and hangs past the 5 s timeout
on a few (``bench/chaos_receiver.py``). Meanwhile every few seconds a random gateway process is
killed with SIGKILL (the supervisor starts it again), Redis is restarted empty once and
PostgreSQL is stopped (fast) and started once (``bench/chaos_cluster.py``). Then the faults
stop, the run waits until every payment, refund and delivery is final (with a deadline), stops
the processes and checks the invariants (``bench/chaos_checks.py``): PASS/FAIL per invariant
with counts; the exit status is 1 on any FAIL or if the work did not drain.

Usage: python bench/chaos.py [MINUTES] [--seconds S] [--instance NAME --pg-port P
--redis-port R] [--flows N] [--seed N] [--json FILE]
(``make chaos ARGS="1"`` runs it for one minute on its own services instance ``chaos``,
PostgreSQL 54379 and Redis 63849; the instance is stopped afterwards.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Any

import psycopg
import redis
import requests
from chaos_checks import Result, check_all, pending_work
from chaos_cluster import Cluster, Services, run_faults
from chaos_load import AUTH, Load
from gateways import free_port

from paystate.engine.clock import SystemClock
from paystate.engine.merchants import seed_test_merchant
from paystate.engine.migrations import reset_database

HERE = os.path.dirname(os.path.abspath(__file__))
WEBHOOK_SECRET = "whsec_test_abc123"  # the seeded test merchant's
SWEEP_GRACE_S, SWEEP_INTERVAL_S, LEASE_S = 3.0, 1.0, 30.0  # the engine's defaults


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("minutes", nargs="?", type=float, default=3.0)
    p.add_argument("--seconds", type=float, default=None, help="overrides MINUTES")
    p.add_argument("--instance", default="chaos")
    p.add_argument("--pg-port", type=int, default=54379)
    p.add_argument("--redis-port", type=int, default=63849)
    p.add_argument("--flows", type=int, default=6)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--drain-timeout", type=float, default=240.0)
    p.add_argument("--pg-down", type=float, default=3.0, help="seconds PostgreSQL stays down")
    p.add_argument("--json", default=None, help="write the numbers and results here")
    p.add_argument("--keep-services", action="store_true")
    return p.parse_args(argv)


def prepare(services: Services) -> None:
    """A fresh schema, the seeded merchant, an empty Redis: the run starts from nothing."""
    reset_database(services.database_url)
    seed_test_merchant(services.database_url, "password123", SystemClock().now())
    redis.Redis.from_url(services.redis_url).flushall()


def drain(database_url: str, timeout: float) -> tuple[bool, float, dict[str, int]]:
    """Poll until nothing is pending (payments, refunds, deliveries, deliveries not yet made
    for committed events); return (done, seconds, last counts)."""
    start = time.monotonic()
    counts: dict[str, int] = {}
    while time.monotonic() - start < timeout:
        try:
            with psycopg.connect(database_url, connect_timeout=3) as conn:
                counts = pending_work(conn)
            if not any(counts.values()):
                return True, time.monotonic() - start, counts
        except psycopg.Error as exc:
            counts = {"error": 1}
            print(f"drain: {exc}", flush=True)
        time.sleep(1.0)
    return False, time.monotonic() - start, counts


async def drive(load: Load, seconds: float) -> None:
    task = asyncio.ensure_future(load.run())
    await asyncio.sleep(seconds)
    load.stop.set()
    await task


def main(argv: list[str] | None = None) -> int:
    # A SIGTERM (an impatient operator, a CI timeout) unwinds like Ctrl-C, through the
    # ``finally`` below that stops the gateway processes, the receiver and the services;
    # by default it would end this process alone and leave them all running.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    args = parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    run_dir = tempfile.mkdtemp(prefix="paystate-chaos-")
    print(f"chaos: {seconds:.0f} s of faults under load, seed {seed}, logs in {run_dir}",
          flush=True)
    services = Services(args.instance, args.pg_port, args.redis_port)
    services.up()
    receiver = None
    cluster = None
    try:
        prepare(services)
        receiver_log = os.path.join(run_dir, "receiver.jsonl")
        receiver_port = free_port()
        with open(os.path.join(run_dir, "receiver.out"), "ab") as out:
            receiver = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "chaos_receiver.py"), str(receiver_port),
                 receiver_log, WEBHOOK_SECRET, "--seed", str(seed)], stdout=out, stderr=out)
        env = {"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url,
               "TEST_MODE": "true", "TEST_PROCESSING_DELAY": "1000",
               "WEBHOOK_RETRY_INTERVALS_TEST": "true", "PAYSTATE_SHARDS": "4",
               "PAYSTATE_STREAM_PREFIX": "chaos", "PAYSTATE_PROCESSES": "1"}
        cluster = Cluster(services, env, run_dir)
        for name, command in (("api-1", "api"), ("api-2", "api"),
                              ("worker-1", "worker"), ("worker-2", "worker")):
            cluster.add(name, command, free_port())
        cluster.start()
        if not cluster.wait_ready(90):
            print("chaos: the gateway processes did not become healthy", flush=True)
            return 2
        r = requests.put(cluster.api_bases[0] + "/api/v1/merchant/webhook", headers=AUTH,
                         json={"url": f"http://127.0.0.1:{receiver_port}/hook"}, timeout=10)
        r.raise_for_status()

        stop_faults = threading.Event()
        faults = threading.Thread(target=run_faults, name="faults", daemon=True,
                                  args=(cluster, seconds, random.Random(seed + 1), stop_faults),
                                  kwargs={"pg_down_s": args.pg_down})
        load = Load(cluster.api_bases, args.flows, random.Random(seed + 2))
        started = time.monotonic()
        faults.start()
        asyncio.run(drive(load, seconds))
        stop_faults.set()
        faults.join(60)
        services.up()  # whatever the last fault did, both servers run from here on
        load_s = time.monotonic() - started
        print(f"chaos: faults stopped after {load_s:.0f} s; draining", flush=True)
        drained, drain_s, left = drain(services.database_url, args.drain_timeout)
        print(f"chaos: {'drained' if drained else 'NOT drained'} in {drain_s:.1f} s {left}",
              flush=True)
        cluster.stop()
        results = check_all(services.database_url, load.ledger, receiver_log, cluster.faults,
                            cluster.workers_down(), reach_s=SWEEP_GRACE_S + SWEEP_INTERVAL_S + 1.0, lease_s=LEASE_S)
        ledger = load.ledger
        answers = Result("every 5xx answer is a 503 in the error envelope (no 500, no trace)",
                         sum(v for k, v in ledger.answers.items() if k in ("5xx",)),
                         failures=list(ledger.bad_5xx))
        traces = cluster.log_errors()
        answers.counts = {"tracebacks_in_logs": sum(traces.values())}
        results.append(answers)
        return report(args, seed, load_s, drained, drain_s, left, cluster, ledger, results)
    finally:
        if cluster is not None:
            cluster.stop()
        if receiver is not None:
            receiver.terminate()
            receiver.wait(10)
        if not args.keep_services:
            services.down()


def report(args: argparse.Namespace, seed: int, load_s: float, drained: bool, drain_s: float,
           left: dict[str, int], cluster: Cluster, ledger: Any,
           results: list[Result]) -> int:
    kills = Counter(f.detail.split("-")[0] for f in cluster.faults if f.kind == "kill9")
    outages = [f for f in cluster.faults if f.kind != "kill9"]
    numbers = {
        "seed": seed,
        "seconds_of_faults": round(load_s),
        "operations": sum(ledger.ops.values()),
        "operations_by_kind": dict(ledger.ops),
        "answers": dict(ledger.answers),
        "creates": {k: len(ledger.of(k)) for k in ("order", "payment", "refund")},
        "kill9": dict(kills),
        "process_restarts": cluster.restarts(),
        "downtime": cluster.downtime(),
        "outages": [{"kind": f.kind, "detail": f.detail,
                     "down_s": round((f.until or f.at) - f.at, 1)} for f in outages],
        "faults": [{"at": round(f.at, 2), "kind": f.kind, "detail": f.detail,
                    "until": f.until and round(f.until, 2)} for f in cluster.faults],
        "workers_down": [[n, round(d, 2), round(u, 2)] for n, d, u in cluster.workers_down()],
        "drained": drained,
        "drain_s": round(drain_s, 1),
        "left": left,
        "invariants": len(results),
        "failed": [r.name for r in results if not r.ok],
        "results": [{"name": r.name, "ok": r.ok, "checked": r.checked, "counts": r.counts,
                     "violations": r.failures[:20]} for r in results],
    }
    print()
    print(f"operations: {numbers['operations']} requests {dict(ledger.ops)}")
    print(f"answers: {dict(ledger.answers)}")
    print(f"faults: kill -9 {dict(kills)}, {cluster.restarts()} process restarts, "
          + ", ".join(f"{f.kind} ({(f.until or f.at) - f.at:.1f} s)" for f in outages))
    print(f"downtime: {numbers['downtime']}")
    print(f"drain: {'done' if drained else 'NOT DONE'} in {drain_s:.1f} s")
    print()
    for r in results:
        print(r.line())
    ok = drained and all(r.ok for r in results)
    print()
    print(f"{'PASS' if ok else 'FAIL'}: {sum(r.ok for r in results)}/{len(results)} invariants"
          f" held{'' if drained else ', work did not drain'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(numbers, f, indent=2, default=str)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
