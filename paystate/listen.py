"""``paystate listen``: a developer's webhook loop, like ``stripe listen``.

An API client only (no engine, no database): it serves a small HTTP receiver on 127.0.0.1,
registers a temporary test-mode webhook endpoint pointing at it (``POST
/api/v1/webhook_endpoints``, description "paystate listen"), prints one line per delivery (time,
event, object id, signature check) and, with ``--forward-to``, passes the exact body and its
signature headers on to the developer's own server. The endpoint is deleted on exit, whatever
ends the run (Ctrl-C, SIGTERM, an error).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from .machines.webhook_signing import standard_signature, verify_hex_signature

DESCRIPTION = "paystate listen"
# The demo merchant's test keys, which `make run` seeds (README "Test merchant").
DEMO_KEY = "key_test_abc123"
DEMO_SECRET = "secret_test_xyz789"
# The gateway gives up on an attempt after 5 s; a forward must answer before that.
FORWARD_TIMEOUT_S = 4.5
API_TIMEOUT_S = 10
# Passed on to --forward-to as they came: the body's type and every signature header.
FORWARDED = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature",
             "x-webhook-signature", "x-signature", "x-razorpay-signature")


class ListenError(Exception):
    """Why listening cannot start or end cleanly: printed, and the exit status is 1."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="paystate listen",
        description="Receive this merchant's webhooks on this machine: a temporary test-mode"
                    " endpoint, one line per delivery, optionally forwarded to your server.")
    parser.add_argument("--api", default=f"http://127.0.0.1:{os.environ.get('PORT') or 8000}",
                        help="the gateway (default: the one `make run` starts, on PORT)")
    parser.add_argument("--key", default=DEMO_KEY, help="test API key (default: the demo's)")
    parser.add_argument("--secret", default=DEMO_SECRET,
                        help="test API secret (default: the demo merchant's)")
    parser.add_argument("--events", default="*",
                        help="comma-separated event names, or * for all (default)")
    parser.add_argument("--forward-to", metavar="URL",
                        help="POST every delivery (body and signature headers) to this URL")
    parser.add_argument("--port", type=int, default=0,
                        help="local port to receive on (default: any free one)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(listen(args))
    except ListenError as exc:
        print(f"paystate listen: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


async def listen(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    api = args.api.rstrip("/")
    auth = {"X-Api-Key": args.key, "X-Api-Secret": args.secret}
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    timeout = aiohttp.ClientTimeout(total=API_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        receiver = Receiver(session, args.forward_to)
        runner = web.AppRunner(receiver.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", args.port)
            try:
                await site.start()
            except OSError as exc:
                raise ListenError(f"cannot listen on 127.0.0.1:{args.port}: {exc}") from exc
            port = runner.addresses[0][1]
            endpoint = await call(session, "POST", f"{api}/api/v1/webhook_endpoints", auth,
                                  {"url": f"http://127.0.0.1:{port}/", "enabled_events": events,
                                   "description": DESCRIPTION})
            try:
                receiver.secret = endpoint["secret"]
                forwarding = f", forwarding to {args.forward_to}" if args.forward_to else ""
                print(f"Ready: endpoint {endpoint['id']} secret {endpoint['secret']} receives"
                      f" {','.join(endpoint['enabled_events'])} on http://127.0.0.1:{port}/"
                      f"{forwarding}. Ctrl-C stops and removes it.", flush=True)
                await stop.wait()
            finally:
                try:
                    await call(session, "DELETE",
                               f"{api}/api/v1/webhook_endpoints/{endpoint['id']}", auth)
                except ListenError as exc:
                    raise ListenError(f"endpoint {endpoint['id']} was not removed (delete it"
                                      f" with DELETE /api/v1/webhook_endpoints/{endpoint['id']}):"
                                      f" {exc}") from exc
                print(f"Removed endpoint {endpoint['id']}.", flush=True)
        finally:
            await runner.cleanup()


async def call(session: aiohttp.ClientSession, method: str, url: str,
               auth: Mapping[str, str], body: Any = None) -> dict[str, Any]:
    """One API request: its JSON answer, or a ListenError naming what went wrong (the API's
    own description when it refused)."""
    try:
        async with session.request(method, url, json=body, headers=auth) as r:
            text = await r.text()
            status = r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ListenError(f"cannot reach the gateway at {url} ({exc or type(exc).__name__});"
                          " is it running (make run), and is --api right?") from exc
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if status >= 300 or not isinstance(answer, dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        why = error.get("description") if isinstance(error, dict) else text[:200]
        raise ListenError(f"{method} {url} answered {status}: {why}")
    return answer


class Receiver:
    """The local endpoint: checks each delivery's signatures, prints it, forwards it."""

    def __init__(self, session: aiohttp.ClientSession, forward_to: str | None) -> None:
        self.session = session
        self.forward_to = forward_to
        self.secret = ""  # the endpoint's, once it is registered

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.deliver)
        return app

    async def deliver(self, request: web.Request) -> web.Response:
        body = await request.read()
        check = "verified" if self.verified(body, request.headers) else "BAD SIGNATURE"
        event, object_id = describe(body)
        status, note = 200, ""
        if self.forward_to:
            status, note = await self.forward(body, request.headers)
        print(f"{time.strftime('%H:%M:%S')}  {event:<18} {object_id:<24} {check}{note}",
              flush=True)
        return web.Response(status=status, text="ok" if status < 300 else "forward failed")

    def verified(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Both signatures match: the hex HMAC and one of the Standard Webhooks ``v1,``
        signatures (a secret roll sends two)."""
        if not self.secret or not verify_hex_signature(
                self.secret, body, headers.get("X-Webhook-Signature", "")):
            return False
        try:
            timestamp = int(headers.get("webhook-timestamp", ""))
        except ValueError:
            return False
        expected = standard_signature(self.secret, headers.get("webhook-id", ""), timestamp,
                                      body)
        return any(hmac.compare_digest(expected, given)
                   for given in headers.get("webhook-signature", "").split())

    async def forward(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        """(the status to answer the gateway: the forward's when 2xx, else 502; the note)."""
        assert self.forward_to is not None
        sent = {k: v for k, v in headers.items() if k.lower() in FORWARDED}
        try:
            async with self.session.post(self.forward_to, data=body, headers=sent,
                                         timeout=aiohttp.ClientTimeout(
                                             total=FORWARD_TIMEOUT_S)) as r:
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 502, f"  -> {self.forward_to} failed: {exc or type(exc).__name__}"
        return (status if 200 <= status < 300 else 502), f"  -> {status}"


def describe(body: bytes) -> tuple[str, str]:
    """(event name, id of the object it is about) of a delivery body, as far as it parses."""
    try:
        event = json.loads(body)
        data = event.get("data") or {}
        thing = data.get("payment") or data.get("refund") or {}
        return str(event.get("event", "?")), str(thing.get("id") or event.get("id", "-"))
    except (ValueError, AttributeError):
        return "(not JSON)", "-"
