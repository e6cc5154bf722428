"""``make bench-floor``: what the HTTP front alone costs, with no gateway behind it.

The same load as ``make bench-create`` (wrk, the same Lua script, POST /api/v1/payments with a
unique Idempotency-Key) against one process running the gateway's own HTTP server
(``make_server``, on the event loop the gateway would pick), with one handler that parses the
JSON body and answers 201 with a payment-sized JSON body: no authentication, no engine, no
PostgreSQL, no Redis. Prints req/s, p50, p99 and the CPU time per request of that process and
of wrk. Their sum is the least any create can cost here through this front; a gateway's create
adds its handler, engine, database and worker to it.

Usage: python bench/http_floor.py [--seconds 15] [--concurrency 16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time

from create import run_wrk
from gateways import free_port, wait_healthy

# A created payment as the API renders it, so the response costs what a real one does.
ANSWER = (b'{"id":"pay_000000000000floor","order_id":"order_0000000000floor","amount":50000,'
          b'"currency":"INR","method":"upi","vpa":"bench@okbank","status":"processing",'
          b'"captured":false,"error_code":null,"error_description":null,'
          b'"created_at":"2026-11-29T00:00:00Z","updated_at":"2026-11-29T00:00:00Z"}')


def serve(port: int) -> None:
    import orjson
    from tornado.web import Application, RequestHandler

    from paystate.__main__ import event_loop_factory
    from paystate.config import Settings
    from paystate.http.guards import make_server

    settings = Settings.from_env()

    class Health(RequestHandler):
        def get(self) -> None:
            self.write(b'{"status":"healthy"}')

    class Create(RequestHandler):
        def post(self) -> None:
            orjson.loads(self.request.body)
            self.set_status(201)
            self.set_header("Content-Type", "application/json")
            self.write(ANSWER)

    async def main() -> None:
        app = Application([(r"/health", Health), (r"/api/v1/payments", Create)])
        make_server(app, settings).listen(port, address="127.0.0.1")
        await asyncio.Event().wait()

    with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
        runner.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", str(port)])
    try:
        wait_healthy(base)
        roots = [("front", proc.pid)]
        run_wrk(base, "order_floor", 3, 16, [proc.pid], "warmup", roots)
        print(f"POST /api/v1/payments to a bare HTTP front (one process), wrk {args.seconds}s")
        print(f"{'c':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
              f" {'front CPU ms':>13} {'wrk CPU ms':>11}")
        for c in (int(x) for x in args.concurrency.split(",")):
            r = run_wrk(base, "order_floor", args.seconds, c, [proc.pid],
                        f"floor{c}-{time.time_ns()}", roots)
            print(f"{c:>4} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
                  f" {r['non2xx']:>8.0f} {r['cpu front']:>13.3f} {r['cpu wrk']:>11.3f}",
                  flush=True)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
