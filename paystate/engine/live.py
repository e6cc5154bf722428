"""Live state views: ONE reader of the Redis streams per process, fanned out to every browser.

The reader is a task on the HTTP front's event loop. It reads ``{prefix}:events`` (every
payment and refund event, published after commit) and ``{prefix}:jobs:webhooks`` (a job per
delivery created, failed or retried) with plain XREAD, not a consumer group: every process sees
every entry and acknowledges nothing. It starts at the streams' end (the id of their last entry,
so that no entry between two reads is skipped, which ``$`` on every call would allow) and reads
only while at least one browser is subscribed.

Entries are not forwarded one by one. Each merchant with subscribers collects them, and a
refresher ticks every ``refresh_s``: for each merchant that had entries it sends one ``events``
message (the latest ``batch`` entries and how many were left out) and, after one query, a
``counts`` message with the number of objects in each state. Counts therefore come from
PostgreSQL, the source of truth, and a duplicate stream entry (the outbox may publish twice)
cannot skew them; the query runs once per merchant per tick however many browsers watch.
Delivery outcomes (succeeded, retrying, failed) are decided by the dispatcher without a stream
entry, so merchants with deliveries in flight are refreshed every ``active_poll_s`` as well.

A subscriber is a bounded queue. A browser that cannot keep up (its queue full) is dropped and
its EventSource reconnects with a fresh snapshot; a browser that disconnects is removed at once
and costs nothing further.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from .streams import StreamNames, decode_entry

log = logging.getLogger(__name__)

Counts = dict[str, dict[str, int]]
CountsQuery = Callable[[str], Awaitable[Counts]]
#: Delivery states that mean "an attempt is still to come".
ACTIVE_DELIVERY = ("pending", "retrying")


class Subscription:
    """One browser's queue of messages. Lives on the event loop; no locks."""

    def __init__(self, merchant_id: str, size: int) -> None:
        self.merchant_id = merchant_id
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(size)
        self.closed = False

    def offer(self, message: dict[str, Any]) -> bool:
        """Queue a message; a full queue closes the subscription (the browser reconnects)."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            self.close()
            return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next message; ``None`` once closed; ``TimeoutError`` after ``timeout`` s."""
        return await asyncio.wait_for(self._queue.get(), timeout)


class _Merchant:
    """What the feed keeps per merchant with subscribers."""

    def __init__(self, batch: int) -> None:
        self.subs: set[Subscription] = set()
        self.entries: deque[dict[str, Any]] = deque(maxlen=batch)
        self.skipped = 0
        self.dirty = False
        self.counts: Counts | None = None


def feed_key(merchant_id: str, livemode: bool) -> str:
    """What a browser subscribes to: one merchant's objects of one mode."""
    return f"{merchant_id}:live" if livemode else merchant_id


def split_feed_key(key: str) -> tuple[str, bool]:
    """The inverse of ``feed_key``: (merchant id, livemode)."""
    merchant_id, _, mode = key.partition(":")
    return merchant_id, mode == "live"


def _entry_message(stream: str, streams: StreamNames,
                   payload: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(feed key, what a browser is told) for one stream entry, or None to ignore it."""
    merchant_id = payload.get("merchant_id")
    if not isinstance(merchant_id, str):
        return None
    merchant = feed_key(merchant_id, bool(payload.get("livemode")))
    if stream == streams.events:
        event = str(payload.get("event") or "")
        machine = event.split(".", 1)[0]
        data = payload.get("data") or {}
        obj = data.get(machine) if isinstance(data, dict) else None
        status = obj.get("status") if isinstance(obj, dict) else None
        return merchant, {"machine": machine, "id": payload.get("entity_id"), "event": event,
                          "status": status, "timestamp": payload.get("timestamp")}
    if payload.get("kind") == "deliver_webhook":
        # ``event`` and ``object_id`` name what the delivery is about (jobs from before they
        # were added carry neither: the feed then shows the delivery's id).
        return merchant, {"machine": "webhook_delivery", "id": payload.get("delivery_id"),
                          "event": "webhook.attempt_scheduled",
                          "delivery_event": payload.get("event"),
                          "object_id": payload.get("object_id"),
                          "attempt": payload.get("attempt"), "due_at": payload.get("due_at")}
    return None


class LiveFeed:
    def __init__(self, redis_url: str, streams: StreamNames, counts: CountsQuery, *,
                 block_ms: int = 1000, refresh_s: float = 0.25, active_poll_s: float = 2.0,
                 queue_size: int = 64, batch: int = 50) -> None:
        self._url = redis_url
        self.streams = streams
        self._counts = counts
        self._block_ms = block_ms
        self._refresh_s = refresh_s
        self._active_poll_s = active_poll_s
        self._queue_size = queue_size
        self._batch = batch
        self._merchants: dict[str, _Merchant] = {}
        self._wanted = asyncio.Event()
        self._ids: dict[str, str] | None = None
        self._client: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: Stream entries read since start (for tests and metrics).

    # -- lifecycle (on the event loop) ------------------------------------------------------

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(self._url, socket_timeout=self._block_ms / 1000 + 5,
                                               socket_connect_timeout=5)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_loop(), name="live-feed-reader"),
                       loop.create_task(self._refresh_loop(), name="live-feed-refresher")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        for merchant in self._merchants.values():
            for sub in merchant.subs:
                sub.close()
        self._merchants.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- subscribers ------------------------------------------------------------------------

    def subscribe(self, merchant_id: str) -> Subscription:
        sub = Subscription(merchant_id, self._queue_size)
        self._merchants.setdefault(merchant_id, _Merchant(self._batch)).subs.add(sub)
        self._wanted.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        merchant = self._merchants.get(sub.merchant_id)
        if merchant is None:
            return
        merchant.subs.discard(sub)
        if not merchant.subs:
            del self._merchants[sub.merchant_id]
        if not self._merchants:
            self._wanted.clear()

    @property
    def subscribers(self) -> int:
        return sum(len(m.subs) for m in self._merchants.values())

    # -- reading ----------------------------------------------------------------------------

    async def _stream_ends(self) -> dict[str, str]:
        assert self._client is not None
        ids = {}
        for stream in (self.streams.events, self.streams.webhook_jobs):
            last: Any = await self._client.xrevrange(stream, count=1)
            ids[stream] = last[0][0].decode() if last else "0-0"
        return ids

    async def _read_loop(self) -> None:
        assert self._client is not None
        while True:
            await self._wanted.wait()
            try:
                if self._ids is None:
                    self._ids = await self._stream_ends()
                streams: Any = dict(self._ids)
                reply: Any = await self._client.xread(streams, count=500,
                                                      block=self._block_ms)
            except (redis.RedisError, OSError) as exc:
                log.warning("live feed: %s; reading again in 1 s", exc)
                self._ids = None
                for merchant in self._merchants.values():
                    merchant.dirty = True
                await asyncio.sleep(1)
                continue
            for raw_stream, entries in reply or []:
                stream = raw_stream.decode() if isinstance(raw_stream, bytes) else raw_stream
                for entry_id, fields in entries:
                    self._ids[stream] = (entry_id.decode() if isinstance(entry_id, bytes)
                                         else entry_id)
                    if fields:
                        self._take(stream, decode_entry(fields))
            if not self._merchants:
                self._ids = None  # nobody watching: start again at the end next time

    def _take(self, stream: str, payload: dict[str, Any]) -> None:
        found = _entry_message(stream, self.streams, payload)
        if found is None:
            return
        merchant_id, message = found
        merchant = self._merchants.get(merchant_id)
        if merchant is None:
            return
        if len(merchant.entries) == merchant.entries.maxlen:
            merchant.skipped += 1
        merchant.entries.append(message)
        merchant.dirty = True

    # -- refreshing -------------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_poll = loop.time() + self._active_poll_s
        while True:
            await asyncio.sleep(self._refresh_s)
            if loop.time() >= next_poll:
                next_poll = loop.time() + self._active_poll_s
                for merchant in self._merchants.values():
                    deliveries = (merchant.counts or {}).get("webhook_delivery", {})
                    if any(deliveries.get(s) for s in ACTIVE_DELIVERY):
                        merchant.dirty = True
            for merchant_id, merchant in list(self._merchants.items()):
                if merchant.dirty:
                    merchant.dirty = False
                    await self._refresh(merchant_id, merchant)

    async def _refresh(self, merchant_id: str, merchant: _Merchant) -> None:
        if merchant.entries:
            batch = {"type": "events", "items": list(merchant.entries),
                     "skipped": merchant.skipped}
            merchant.entries.clear()
            merchant.skipped = 0
            self._broadcast(merchant, batch)
        try:
            counts = await self._counts(merchant_id)
        except Exception as exc:  # noqa: BLE001 - a failed refresh is retried on the next tick
            log.warning("live feed: counts of %s: %s", merchant_id, exc)
            merchant.dirty = True
            return
        if counts != merchant.counts:
            merchant.counts = counts
            self._broadcast(merchant, {"type": "counts", "counts": counts})

    def _broadcast(self, merchant: _Merchant, message: dict[str, Any]) -> None:
        for sub in list(merchant.subs):
            sub.offer(message)

    def seed(self, merchant_id: str, counts: Counts) -> None:
        """Remember the counts a new subscriber was just sent, so the next refresh sends a
        ``counts`` message only when something changed."""
        merchant = self._merchants.get(merchant_id)
        if merchant is not None and merchant.counts is None:
            merchant.counts = counts
