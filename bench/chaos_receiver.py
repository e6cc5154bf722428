"""The merchant endpoint of the chaos run: a webhook receiver in its own process.

It answers like an unreliable merchant: a share of attempts (``--fail-rate``, default 0.3) get
500, a smaller share (``--hang-rate``) hang past the gateway's 5 s timeout and then get 503, the
rest get 200 at once. Every request is written to a JSON-lines log as it arrives, with the
answer decided for it, so the checker can compare what the merchant saw with what PostgreSQL
recorded:

    {"id": webhook-id, "ts": webhook-timestamp, "at": arrival (unix s), "event", "entity",
     "answer": 200 | 500 | "hang", "sig_ok": X-Webhook-Signature matches}

Usage: python bench/chaos_receiver.py PORT LOG SECRET [--fail-rate R] [--hang-rate R]
(started and stopped by ``bench/chaos.py``; loopback only).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import signal
import time
from typing import Any

from aiohttp import web

HANG_S = 6.5  # past the gateway's 5 s timeout


def make_app(log_path: str, secret: str, fail_rate: float, hang_rate: float,
             rng: random.Random) -> web.Application:
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - closed on cleanup

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        sig_ok = hmac.compare_digest(expected, request.headers.get("X-Webhook-Signature", ""))
        event: Any = None
        entity: Any = None
        try:
            parsed = json.loads(body)
            event = parsed.get("event")
            data = parsed.get("data") or {}
            obj = data.get("payment") or data.get("refund") or {}
            entity = obj.get("id")
        except (ValueError, AttributeError):
            pass
        roll = rng.random()
        answer: int | str = "hang" if roll < hang_rate else (
            500 if roll < hang_rate + fail_rate else 200)
        log.write(json.dumps({"id": request.headers.get("webhook-id"),
                              "ts": request.headers.get("webhook-timestamp"),
                              "at": time.time(), "event": event, "entity": entity,
                              "answer": answer, "sig_ok": sig_ok}) + "\n")
        if answer == "hang":
            await asyncio.sleep(HANG_S)
            return web.Response(status=503, text="hung")
        return web.Response(status=int(answer), text="ok" if answer == 200 else "chaos")

    async def close_log(app: web.Application) -> None:
        log.close()

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.on_cleanup.append(close_log)
    return app


async def serve(port: int, app: web.Application) -> None:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"receiver ready on {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log")
    parser.add_argument("secret")
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--hang-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    app = make_app(args.log, args.secret, args.fail_rate, args.hang_rate,
                   random.Random(args.seed))
    asyncio.run(serve(args.port, app))


if __name__ == "__main__":
    main()
