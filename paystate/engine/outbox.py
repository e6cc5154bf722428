"""Publishing outbox rows to Redis streams after commit, and the relay for rows a crash left.

The order is XADD, then mark published: a crash in between publishes a row twice, never zero
times; every consumer is idempotent.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import psycopg
import redis

from ..encoding import json_bytes
from .clock import Clock
from .db import ActorConnection
from .queues import next_batch
from .unit_of_work import OutboxRow

log = logging.getLogger(__name__)


#: Streams are capped (approximately) at this many entries: they are a transport, not a log.
#: An entry trimmed before a consumer read it is work the sweepers and the webhook reconcile
#: find again in PostgreSQL.
STREAM_MAXLEN = 100_000
#: How long events stay listed by GET /api/v1/events (the outbox's event rows are the events).
EVENTS_KEPT = timedelta(days=30)


def _xadd(pipe: Any, stream: str, payload: Any, outbox_id: Any) -> None:
    pipe.xadd(stream, {"payload": json_bytes(payload), "outbox_id": str(outbox_id)},
              maxlen=STREAM_MAXLEN, approximate=True)


def publish(client: redis.Redis, conn: psycopg.Connection[Any], rows: Iterable[OutboxRow],
            clock: Clock) -> bool:
    """XADD each row, then mark them published. False (rows stay for the relay) if Redis or
    PostgreSQL refused; the caller's transaction has already committed either way."""
    rows = list(rows)
    if not rows:
        return True
    try:
        pipe = client.pipeline(transaction=False)
        for row in rows:
            _xadd(pipe, row.stream, row.payload, row.id)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("outbox publish deferred to the relay: %s", exc)
        return False
    try:
        conn.execute("UPDATE outbox SET published_at = %s WHERE id = ANY(%s::uuid[])",
                     (clock.now(), [r.id for r in rows]))
        if not conn.autocommit:
            conn.commit()
    except psycopg.Error as exc:
        log.warning("outbox rows published but not marked (the relay will publish again): %s",
                    exc)
        return False
    return True


class Publisher:
    """One thread per process that publishes committed outbox rows in batches.

    Shards hand their rows over after commit (``enqueue`` never blocks), so a shard's next
    decision does not wait for Redis; the thread XADDs a batch in one pipeline and marks it
    published with one UPDATE. Rows it could not publish stay unpublished for the relay.
    """

    def __init__(self, database_url: str, client: redis.Redis, clock: Clock,
                 batch: int = 500) -> None:
        self._client = client
        self._clock = clock
        self._batch = batch
        self._queue: queue.SimpleQueue[OutboxRow | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
        # Checked after idling: the first batch after a quiet PostgreSQL restart would
        # otherwise meet the dead connection and wait for the relay.
        self._db = ActorConnection(database_url)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        self._db.reset()

    def enqueue(self, rows: Iterable[OutboxRow]) -> None:
        for row in rows:
            self._queue.put(row)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            rows, stopping = next_batch(self._queue, self._batch)
            if not rows:
                continue
            try:
                publish(self._client, self._db.get(), rows, self._clock)
            except psycopg.Error as exc:
                log.warning("publisher: %s (the relay will publish these rows)", exc)
                self._db.reset()


class OutboxRelay:
    """A thread that republishes outbox rows left unpublished for longer than ``grace``.

    Runs in every worker process (and a one-process ``serve``), not in ``api`` processes;
    ``FOR UPDATE SKIP LOCKED`` keeps two relays off the same rows.
    """

    def __init__(self, database_url: str, client: redis.Redis, clock: Clock,
                 grace: timedelta = timedelta(seconds=5), interval: float = 1.0) -> None:
        self._client = client
        self._clock = clock
        self._grace = grace
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        # Autocommit, checked after idling; each batch is its own explicit transaction.
        self._db = ActorConnection(database_url)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        else:  # driven by hand (tests): close what run_once opened
            self._db.reset()

    def run_once(self, limit: int = 500) -> int:
        """Republish one batch of stale rows; return how many. Callable from tests."""
        conn = self._db.get()
        cutoff = self._clock.now() - self._grace
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, stream, payload FROM outbox WHERE published_at IS NULL"
                " AND created_at <= %s ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (cutoff, limit),
            ).fetchall()
            if not rows:
                return 0
            pipe = self._client.pipeline(transaction=False)
            for r in rows:
                _xadd(pipe, r["stream"], r["payload"], r["id"])
            pipe.execute()
            conn.execute("UPDATE outbox SET published_at = %s WHERE id = ANY(%s::uuid[])",
                         (self._clock.now(), [str(r["id"]) for r in rows]))
        log.info("relay republished %d outbox rows", len(rows))
        return len(rows)

    def prune_once(self, keep: timedelta = timedelta(days=7),
                   keep_events: timedelta = EVENTS_KEPT, limit: int = 5000) -> int:
        """Delete published rows older than ``keep`` (the webhook reconcile reads 15 minutes
        back; jobs are history nobody reads), and events older than ``keep_events`` (the
        events list promises 30 days), a bounded batch at a time so the janitor never holds
        many locks or a long transaction."""
        conn = self._db.get()
        now = self._clock.now()
        with conn.transaction():
            cur = conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at"
                " IS NOT NULL AND created_at < %s AND (event_id IS NULL OR created_at < %s)"
                " LIMIT %s FOR UPDATE SKIP LOCKED)",
                (now - keep, now - keep_events, limit))
        return cur.rowcount

    def _run(self) -> None:
        rounds = 0
        while not self._stop.wait(self._interval):
            rounds += 1
            try:
                if rounds % 60 == 0:
                    self.prune_once()
                self.run_once()
            except (psycopg.Error, redis.RedisError) as exc:
                log.warning("outbox relay: %s", exc)
                self._db.reset()
        self._db.reset()
