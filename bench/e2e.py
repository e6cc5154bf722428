"""``make bench-e2e``: N orders and payments through the REST API, until every payment's final
webhook (payment.success or payment.failed) has reached a receiver in another process that
checks both signatures.

The gateway runs in TEST_MODE with TEST_PROCESSING_DELAY=1 (payments succeed 1 ms after they
are created); a webhook endpoint subscribed to ``--events`` (default payment.success and
payment.failed, the two a payment gets from the reference gateway; ``*`` for all) points at
``bench/receiver.py``, which verifies with that endpoint's secret. The load comes from this
process (asyncio + aiohttp, CONCURRENCY requests in flight), which does not share the gateway's
GIL. Prints payments/s end to end, the time to the last webhook, create latency,
payment-to-webhook latency, the events subscribed and deliveries per event, duplicates, bad
signatures, the memory of every process and the CPU time each spent per payment, and where
PostgreSQL's time went: its top statements by execution time and their totals per payment,
from pg_stat_statements (``bench/pg_statements.py``; the bench instance loads it).

Usage: DATABASE_URL=... REDIS_URL=... python bench/e2e.py [--payments 10000]
       [--concurrency 64] [--mode serve|split] [--processes N] [--timeout 600]
       [--events payment.success,payment.failed] [--pg-top 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import pg_statements
from gateways import cpu_seconds, free_port, gateway, service_pids, tree_pss_mb, tree_rss_mb

AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
# The events that end a payment: the bench waits for one of them per payment.
FINAL_EVENTS = ("payment.success", "payment.failed")
# TEST_MODE settings that the reference gateway reads too: payments succeed 1 ms after they
# are created.
TEST_SETTINGS = {"TEST_MODE": "true", "TEST_PROCESSING_DELAY": "1"}
HERE = os.path.dirname(os.path.abspath(__file__))


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


async def create_all(base: str, n: int, concurrency: int) -> tuple[dict[str, float],
                                                                   list[float], int]:
    """Create ``n`` order + payment pairs; return {payment id: time its 201 arrived}, the
    payment create latencies, and the number of failed requests."""
    created: dict[str, float] = {}
    latencies: list[float] = []
    failures = 0
    todo = iter(range(n))
    run = uuid.uuid4().hex[:8]

    async def post(session: aiohttp.ClientSession, path: str, body: Any,
                   key: str) -> tuple[dict[str, Any] | None, float]:
        started = time.perf_counter()
        async with session.post(base + path, json=body,
                                headers={**AUTH, "Idempotency-Key": key}) as r:
            data = await r.json()
            return (data if r.status == 201 else None), time.perf_counter() - started

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        for i in todo:
            order, _ = await post(session, "/api/v1/orders", {"amount": 50_000},
                                  f"e2e-{run}-o{i}")
            if order is None:
                failures += 1
                continue
            payment, took = await post(session, "/api/v1/payments",
                                       {"order_id": order["id"], "method": "upi",
                                        "vpa": "e2e@okbank"}, f"e2e-{run}-p{i}")
            if payment is None:
                failures += 1
                continue
            created[payment["id"]] = time.time()
            latencies.append(took)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return created, latencies, failures


def call(base: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.request(method, base + path, json=body,
                                                           headers=AUTH) as r:
            if r.status >= 300:  # the API's own message, e.g. an unknown event name
                raise SystemExit(f"{method} {path} answered {r.status}: {await r.text()}")
            return dict(await r.json())
    return asyncio.run(go())


def stats(receiver: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.get(receiver + "/stats") as r:
            return dict(await r.json())
    return asyncio.run(go())


def run_e2e(base: str, pids: list[int], subscribe: Callable[[str], tuple[str, list[str]]],
            payments: int, concurrency: int, timeout: float, database_url: str,
            redis_url: str, signatures: str = "both",
            pg_top: int | None = None) -> dict[str, Any]:
    """N payments through the gateway at ``base`` (whose top-level processes are ``pids``)
    until each one's final webhook reached a receiver process; returns the report.
    ``subscribe(receiver_url)`` points the gateway's webhooks at the receiver before the first
    payment and returns (the secret they are signed with, the events subscribed);
    ``signatures`` is what the receiver checks: "both" (Paystate's two headers) or "hex"
    (X-Webhook-Signature only, the reference gateway's one). ``pg_top``: also read
    pg_stat_statements over the measured phase (``pg_statements``), its top N statements.
    Runs on the calling thread."""
    receiver_port = free_port()
    receiver_url = f"http://127.0.0.1:{receiver_port}"
    # Nothing is delivered before the first payment, so the subscription may come first.
    secret, events = subscribe(receiver_url + "/hook")
    receiver = subprocess.Popen([sys.executable, os.path.join(HERE, "receiver.py"),
                                 str(receiver_port), secret, signatures])
    try:
        wait_healthy_receiver(receiver_url)
        roots = [("gateway", p) for p in pids] + [("receiver", receiver.pid)] + \
            service_pids(database_url, redis_url)
        pg_mark = pg_statements.start(database_url) if pg_top is not None else None
        cpu_before = cpu_seconds(roots)
        started = time.time()
        created, latencies, failures = asyncio.run(create_all(base, payments, concurrency))
        created_s = time.time() - started
        # Peaks: RSS counts a page shared by several processes once in each, PSS divides it.
        rss = {"gateway": sum(tree_rss_mb(p) for p in pids),
               "receiver": tree_rss_mb(receiver.pid),
               "gateway_pss": sum(tree_pss_mb(p) for p in pids)}
        deadline = time.time() + timeout
        while True:
            got = stats(receiver_url)
            arrived = {pid: at for pid, at in got["final"].items() if pid in created}
            if len(arrived) >= len(created) or time.time() > deadline:
                break
            rss["gateway"] = max(rss["gateway"], sum(tree_rss_mb(p) for p in pids))
            rss["gateway_pss"] = max(rss["gateway_pss"], sum(tree_pss_mb(p) for p in pids))
            time.sleep(0.2)
        cpu_after = cpu_seconds(roots)
        pg = None if pg_top is None else (
            pg_statements.finish(database_url, pg_mark, len(created), max(pg_top, 0))
            if isinstance(pg_mark, pg_statements.Mark) else {"unavailable": pg_mark})
    finally:
        receiver.terminate()
        receiver.wait(10)
    last = max(arrived.values()) if arrived else float("nan")
    to_webhook = [arrived[p] - created[p] for p in arrived]
    own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "payments": len(created), "failed_requests": failures,
        "webhooks_arrived": len(arrived), "missing": len(created) - len(arrived),
        "create_phase_s": round(created_s, 2),
        "time_to_last_webhook_s": round(last - started, 2),
        "payments_per_s_end_to_end": round(len(arrived) / (last - started), 1),
        "create_p50_ms": round(pct(latencies, 50) * 1000, 1),
        "create_p99_ms": round(pct(latencies, 99) * 1000, 1),
        "payment_to_webhook_p50_ms": round(pct(to_webhook, 50) * 1000, 1),
        "payment_to_webhook_p99_ms": round(pct(to_webhook, 99) * 1000, 1),
        "events_subscribed": events,
        "deliveries_per_event": dict(sorted(got["per_event"].items())),
        "duplicates": got["duplicates"], "bad_signatures": got["bad_signatures"],
        "rss_gateway_mb": round(rss["gateway"]), "pss_gateway_mb": round(rss["gateway_pss"]),
        "rss_receiver_mb": round(rss["receiver"]),
        "rss_load_generator_mb": round(own_rss),
        "concurrency": concurrency,
        # From the first create to the last webhook (within 0.2 s), per payment created.
        "cpu_ms_per_payment": {k: round((v - cpu_before.get(k, 0.0)) * 1000 / len(created), 3)
                               for k, v in sorted(cpu_after.items())
                               if created and not k.endswith("gone")},
    }
    if pg is not None:
        report["pg_statements"] = pg
    return report


def endpoint_subscriber(base: str, events: list[str]) -> Callable[[str], tuple[str, list[str]]]:
    """``subscribe`` for ``run_e2e`` on Paystate: a webhook endpoint for ``events``."""
    def subscribe(url: str) -> tuple[str, list[str]]:
        endpoint = call(base, "POST", "/api/v1/webhook_endpoints",
                        {"url": url, "enabled_events": events, "description": "make bench-e2e"})
        return str(endpoint["secret"]), list(endpoint["enabled_events"])
    return subscribe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--mode", choices=["serve", "split"], default="serve")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--events", default=",".join(FINAL_EVENTS),
                        help="the endpoint's enabled_events, comma-separated; * for all")
    parser.add_argument("--pg-top", type=int, default=15, metavar="N",
                        help="PostgreSQL statements to list by execution time (0: totals only)")
    args = parser.parse_args()
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    if "*" not in events and not set(FINAL_EVENTS) & set(events):
        parser.error("--events must include payment.success or payment.failed: the bench"
                     " waits for each payment's final event")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with gateway(args.mode, port, paystate_env(port), args.processes) as pids:
        report = run_e2e(base, pids, endpoint_subscriber(base, events), args.payments,
                         args.concurrency, args.timeout, os.environ["DATABASE_URL"],
                         os.environ["REDIS_URL"], pg_top=args.pg_top)
    report.update(mode=args.mode, processes=args.processes)
    pg = report["pg_statements"]
    if "unavailable" not in pg:
        print(pg_statements.table(pg, report["cpu_ms_per_payment"].get("PostgreSQL")))
    print(pg_statements.json_text(report))
    if report["missing"] or report["failed_requests"] or report["bad_signatures"]:
        sys.exit(1)


def paystate_env(port: int) -> dict[str, str]:
    return {**TEST_SETTINGS, "PAYSTATE_STREAM_PREFIX": f"benche2e{port}"}


def wait_healthy_receiver(url: str) -> None:
    for _ in range(100):
        try:
            stats(url)
            return
        except aiohttp.ClientError:
            time.sleep(0.1)
    raise SystemExit("receiver did not start")


if __name__ == "__main__":
    main()
