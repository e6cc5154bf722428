"""HTTP benchmark: order + UPI payment creations through the REST API on 127.0.0.1.

Starts ``python -m paystate serve`` (TEST_MODE, short settle delay) on a free loopback port,
drives it with ``CONCURRENCY`` aiohttp clients for ``SECONDS`` seconds (each loop: create an
order, pay it by UPI, read the payment), then reports requests/s and latency percentiles.
Bounded in time and count, loopback only.

Usage: DATABASE_URL=... REDIS_URL=... python bench/http_load.py [SECONDS] [CONCURRENCY]
(``make bench-http`` starts its own PostgreSQL and Redis and runs this.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time

import aiohttp
from gateways import free_port, wait_healthy

AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
MAX_REQUESTS = 200_000


async def drive(base: str, seconds: float, concurrency: int) -> None:
    latencies: dict[str, list[float]] = {"order": [], "payment": [], "get": []}
    errors = 0
    deadline = time.perf_counter() + seconds
    count = 0

    async def timed(session: aiohttp.ClientSession, kind: str, method: str, path: str,
                    body: object = None) -> dict | None:
        nonlocal errors, count
        count += 1
        t = time.perf_counter()
        async with session.request(method, base + path, json=body, headers=AUTH) as r:
            data = await r.json()
            latencies[kind].append(time.perf_counter() - t)
            if r.status >= 400:
                errors += 1
                return None
            return data

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline and count < MAX_REQUESTS:
            order = await timed(session, "order", "POST", "/api/v1/orders", {"amount": 50000})
            if order is None:
                continue
            payment = await timed(session, "payment", "POST", "/api/v1/payments",
                                  {"order_id": order["id"], "method": "upi", "vpa": "a@b"})
            if payment is not None:
                await timed(session, "get", "GET", f"/api/v1/payments/{payment['id']}")

    connector = aiohttp.TCPConnector(limit=concurrency)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    total = sum(len(v) for v in latencies.values())
    print(f"{total} requests in {elapsed:.1f}s -> {total / elapsed:.0f} req/s "
          f"({len(latencies['payment']) / elapsed:.0f} payments/s), errors={errors}, "
          f"concurrency={concurrency}")
    for kind, values in latencies.items():
        if values:
            q = statistics.quantiles(values, n=100)
            print(f"  {kind:8s} p50={q[49] * 1000:.1f}ms p99={q[98] * 1000:.1f}ms "
                  f"n={len(values)}")


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    port = free_port()
    env = {**os.environ, "PORT": str(port), "TEST_MODE": "true", "TEST_PROCESSING_DELAY": "500",
           "PAYSTATE_STREAM_PREFIX": f"benchhttp{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "paystate", "serve", "--log-level",
                             "WARNING"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        asyncio.run(drive(base, seconds, concurrency))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
