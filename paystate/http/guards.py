"""What keeps one client from exhausting the front: the HTTP server's timeouts, a bound on the
request bodies held in memory at once, and the rate limits each handler applies.

Runs on the gateway's event loop only (no locks: one loop per process).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem
from tornado.httpserver import HTTPServer
from tornado.web import Application

from ..config import Settings
from ..engine.bridge import LocalLimits, rate
from .read_deadlines import ReadDeadlines

# Bodies up to this size are read (and drained past ``max_body_bytes``) so that they are answered
# 413 in the contract's envelope; beyond it Tornado refuses the connection itself.
HARD_BODY_LIMIT = 64 * 1024 * 1024


class InFlight:
    """Requests this process has started and not finished: a stopping process lets them end
    before it closes the pools and actors they use."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        self.count += 1
        self._idle.clear()

    def end(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def drained(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class BodyBudget:
    """Bytes of request bodies held in memory by this process, bounded. A request that would
    go past the bound is answered 503 and its bytes are dropped as they arrive."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.capacity:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


@dataclass(frozen=True)
class Guards:
    budget: BodyBudget
    in_flight: InFlight
    local: LocalLimits
    merchant_rate: RateLimitItem
    public_rate: RateLimitItem
    public_payment_rate: RateLimitItem
    public_order_rate: RateLimitItem
    public_payment_attempts: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Guards:
        return cls(budget=BodyBudget(settings.http_body_buffer_bytes), in_flight=InFlight(),
                   local=LocalLimits(),
                   merchant_rate=rate(settings.merchant_rate_limit),
                   public_rate=rate(settings.public_rate_limit),
                   public_payment_rate=rate(settings.public_payment_rate_limit),
                   public_order_rate=rate(settings.public_order_rate_limit),
                   public_payment_attempts=settings.public_payment_attempts)


_BARE_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"
_ENVELOPE = (b'{"error":{"code":"BAD_REQUEST_ERROR","description":'
             b'"Malformed HTTP request (request line or headers)"}}')
_ENVELOPED_400 = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_ENVELOPE)) + _ENVELOPE


class EnvelopedHTTPServer(HTTPServer):
    """Tornado refuses a request it cannot parse (a control character in a header, a broken
    request line) before any handler exists, with a bare ``400`` and no body. The contract wants
    every error in its envelope, and Tornado has no hook there: each connection's stream swaps
    exactly that bare answer for the enveloped one.

    The header and body timeouts are taken from Tornado's connections and enforced by
    ``ReadDeadlines`` instead, at a fraction of the cost per request."""

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        params = self.conn_params
        self.deadlines = ReadDeadlines(params.header_timeout, params.body_timeout)
        params.header_timeout = params.body_timeout = None
        self.deadlines.start()

    def stop(self) -> None:
        self.deadlines.stop()
        super().stop()

    def handle_stream(self, stream: Any, address: tuple[Any, ...]) -> None:
        self.deadlines.watch(stream)
        write = stream.write

        def enveloping_write(data: Any) -> Any:
            return write(_ENVELOPED_400 if data == _BARE_400 else data)

        stream.write = enveloping_write
        super().handle_stream(stream, address)


def make_server(app: Application, settings: Settings, **options: Any) -> HTTPServer:
    """The HTTP server every process runs: bodies must arrive within ``http_body_timeout_s``,
    an idle keep-alive connection (or one still sending its headers) is closed after
    ``http_idle_timeout_s``, client addresses come from proxy headers only when trusted."""
    return EnvelopedHTTPServer(app, max_body_size=HARD_BODY_LIMIT,
                               xheaders=settings.trust_proxy_headers,
                               body_timeout=settings.http_body_timeout_s,
                               idle_connection_timeout=settings.http_idle_timeout_s, **options)
