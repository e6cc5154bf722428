"""Engine benchmark: N payments in flight at once, through the engine bridge (no HTTP).

Phase 1 creates N orders and N payments concurrently (3 transitions per payment: order create,
order add_payment, payment create) while their settle due time is in the future, so all N are
in flight together; it reports transitions/s, threads and RSS. Phase 2 lets them all come due
and reports settlements/s (2 transitions each: payment succeed, order mark_paid).

Usage: DATABASE_URL=... REDIS_URL=... python bench/engine_inflight.py [N] [SHARDS]
(``make bench`` starts its own PostgreSQL and Redis and runs this.)
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import uuid
from dataclasses import replace

import psycopg

from paystate.bootstrap import build, prepare_database
from paystate.config import TEST_MERCHANT_ID, Settings
from paystate.engine.bridge import NewPayment
from paystate.engine.clock import SystemClock
from paystate.engine.merchants import Merchant, seed_test_merchant


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main(n: int, shards: int) -> None:
    base = Settings.from_env()
    prepare_database(base)
    # The orders below belong to the demo merchant: the bench seeds it, as the tests do.
    seed_test_merchant(base.database_url, base.test_merchant_password, SystemClock().now())
    settle_after_s = 600  # far enough that nothing settles during phase 1
    settings = replace(base, test_mode=True, test_processing_delay_ms=settle_after_s * 1000,
                       shards=shards, stream_prefix=f"bench{uuid.uuid4().hex[:6]}",
                       sweep_interval_ms=500, sweep_grace_ms=0)
    rt = await build(settings, worker=True, start_background=False)
    engine = rt.engine
    assert engine is not None and rt.processor is not None
    merchant = Merchant(id=TEST_MERCHANT_ID, name="", email="", api_key="",
                        webhook_secret="")
    print(f"N={n} shards={shards} threads_before={threading.active_count()} "
          f"rss_before={rss_mb():.0f}MB")

    sem = asyncio.Semaphore(512)
    ids: list[str] = []

    async def one() -> None:
        async with sem:
            order = await engine.create_order(merchant, 10000, "INR", None, {})
            payment = await engine.create_payment(order, NewPayment(method="upi", vpa="a@b"))
            ids.append(payment.id)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    t1 = time.perf_counter()
    create_s = t1 - t0
    print(f"phase 1: {n} payments in flight in {create_s:.2f}s -> {n / create_s:.0f} payments/s,"
          f" {3 * n / create_s:.0f} transitions/s; threads={threading.active_count()}"
          f" rss={rss_mb():.0f}MB")

    # Phase 2: make every payment due now (as if the delay had passed) and sweep them.
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE payments SET settle_due_at = now() - interval '1 second'"
                     " WHERE id = ANY(%s)", (ids,))
    loop = asyncio.get_running_loop()
    t2 = time.perf_counter()
    remaining = n
    while remaining:
        await loop.run_in_executor(None, rt.processor.sweep_once, 2000)
        await asyncio.sleep(0.05)
        with psycopg.connect(settings.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM payments WHERE id = ANY(%s)"
                               " AND status = 'pending'", (ids,)).fetchone()
        remaining = int(row[0]) if row else 0
    t3 = time.perf_counter()
    settle_s = t3 - t2
    print(f"phase 2: {n} settled in {settle_s:.2f}s -> {n / settle_s:.0f} settlements/s,"
          f" {2 * n / settle_s:.0f} transitions/s; threads={threading.active_count()}"
          f" rss={rss_mb():.0f}MB")
    await rt.stop()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    shard_count = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("SHARDS", "8"))
    asyncio.run(main(count, shard_count))
