"""The "send" step of a webhook delivery: HTTP POSTs on a dedicated asyncio loop in its own thread.

Nothing here decides or records anything. ``WebhookSender.submit`` is called from the dispatcher
actor's thread, returns at once, and calls back (on the sender's loop thread) with an
``AttemptResult`` when the POST finished, failed or hit its timeout - always exactly once. A
hanging endpoint therefore holds one coroutine for at most ``timeout_s``, never a thread; how
many of those one merchant may hold at a time is the dispatcher's business (it claims a
merchant's deliveries only while the merchant is below its concurrency bound).

The transport is injected: ``AiohttpTransport`` in production (no redirects followed, a total
timeout per request, private targets refused unless allowed); tests and simulations may pass
another ``Transport``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from ...machines.webhook import RESPONSE_BODY_LIMIT
from .urls import GuardedResolver, check_literal_host

log = logging.getLogger(__name__)
#: Bytes of a response read to keep its first 1000 characters (UTF-8 needs at most 4 a character).
READ_LIMIT = RESPONSE_BODY_LIMIT * 4


@dataclass(frozen=True)
class OutgoingWebhook:
    merchant_id: str
    url: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    response_body: str | None
    error: str | None


class Transport(Protocol):
    async def post(self, request: OutgoingWebhook, timeout: float) -> tuple[int, str]:
        """POST once; return (status, first characters of the body). Raise on no response."""
        ...

    async def close(self) -> None: ...


class AiohttpTransport:
    """One ``aiohttp.ClientSession`` for every merchant, created on the sender's loop."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver = None if self._allow_private else GuardedResolver()
            # limit=0: no global cap on connections - a merchant's bound is the dispatcher's,
            # and a shared pool limit would let one hanging merchant queue everyone else.
            connector = aiohttp.TCPConnector(limit=0, resolver=resolver)
            self._session = aiohttp.ClientSession(connector=connector,
                                                  cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def post(self, request: OutgoingWebhook, timeout: float) -> tuple[int, str]:
        if not self._allow_private:
            check_literal_host(urlsplit(request.url).hostname or "")
        session = self._open()
        async with session.post(request.url, data=request.body, headers=dict(request.headers),
                                allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            raw = bytearray()
            while len(raw) < READ_LIMIT:
                chunk = await response.content.read(READ_LIMIT - len(raw))
                if not chunk:
                    break
                raw += chunk
            return response.status, bytes(raw).decode("utf-8", "replace")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookSender:
    """An event loop thread that runs POSTs and reports each one's result exactly once.

    ``start`` is idempotent and thread-safe (``submit`` starts the loop on first use, so a test
    that drives the dispatcher by hand needs no extra step). ``stop`` cancels POSTs in flight:
    their callbacks still run, with an error result.
    """

    def __init__(self, transport_factory: Callable[[], Transport], timeout_s: float = 5.0) -> None:
        self._factory = transport_factory
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._transport: Transport | None = None

    def start(self) -> None:
        with self._lock:
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="webhook-sender", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._transport is not None:
                await self._transport.close()
                self._transport = None

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        except Exception:
            log.warning("webhook sender did not shut down cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()

    def submit(self, request: OutgoingWebhook, done: Callable[[AttemptResult], None]) -> None:
        """Start one POST; ``done`` runs on the sender thread when it is over. Thread-safe."""
        self.start()
        loop = self._loop
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(self._send(request), loop)

        def finished(f: concurrent.futures.Future[AttemptResult]) -> None:
            try:
                result = f.result()
            except BaseException as exc:  # noqa: BLE001 - cancelled at shutdown, or a bug
                result = AttemptResult(None, 0, None, f"not sent: {type(exc).__name__}")
            try:
                done(result)
            except Exception:
                log.exception("webhook result callback failed")

        future.add_done_callback(finished)

    async def _send(self, request: OutgoingWebhook) -> AttemptResult:
        if self._transport is None:
            self._transport = self._factory()
        started = time.perf_counter()
        status: int | None = None
        body: str | None = None
        error: str | None = None
        try:
            status, body = await asyncio.wait_for(
                self._transport.post(request, self._timeout), self._timeout + 1)
        except TimeoutError:
            error = f"timed out after {self._timeout:g} s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"[:RESPONSE_BODY_LIMIT]
        except Exception as exc:  # noqa: BLE001 - any failure to get a response is a failure
            error = f"{type(exc).__name__}: {exc}"[:RESPONSE_BODY_LIMIT]
        duration_ms = max(0, int((time.perf_counter() - started) * 1000))
        if body is not None:
            body = _storable(body[:RESPONSE_BODY_LIMIT])
        if error is not None:
            error = _storable(error)
        return AttemptResult(status, duration_ms, body, error)


def _storable(text: str) -> str:
    """PostgreSQL's text and jsonb hold no NUL: one in an answer would fail the whole batch of
    attempts it is recorded with, at every retry. It becomes U+FFFD, as undecodable bytes do."""
    return text.replace("\x00", "\ufffd")
