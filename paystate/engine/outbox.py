"""Publishing a decision's events and jobs to Redis streams after its commit, and keeping the
event log (the outbox table) to 30 days.

Every row is published once, right after the commit, by the process that made it; nothing
records that it was (an UPDATE per row cost more PostgreSQL work than writing the row). What a
crash between the commit and the XADD, or a Redis outage, leaves unpublished is found again in
PostgreSQL:

- jobs (settle a payment or refund, attempt a delivery) are never stored (``stored`` false):
  the sweepers find due work in the objects' own rows;
- events are stored once in the outbox, the event log that GET /api/v1/events lists, and the
  webhook dispatcher's reconcile reads that log behind a high-water mark
  (``webhooks/deliveries.py``, migration 018), creating the deliveries a lost event missed.

Every consumer is idempotent, so a row published twice does no harm.
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


def publish(client: redis.Redis, rows: Iterable[OutboxRow]) -> bool:
    """XADD each row in one pipeline; False if Redis refused (the sweepers and the reconcile
    find the work again). The caller's transaction has committed."""
    rows = list(rows)
    if not rows:
        return True
    try:
        pipe = client.pipeline(transaction=False)
        for row in rows:
            _xadd(pipe, row.stream, row.payload, row.id)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("publish failed, left to the sweepers and the reconcile: %s", exc)
        return False
    return True


class Publisher:
    """One thread per process that publishes committed rows in batches.

    Shards and the webhook actor hand their rows over after commit (``enqueue`` never blocks),
    so their next decision does not wait for Redis; the thread XADDs a batch in one pipeline.
    """

    def __init__(self, client: redis.Redis, batch: int = 500) -> None:
        self._client = client
        self._batch = batch
        self._queue: queue.SimpleQueue[OutboxRow | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def enqueue(self, rows: Iterable[OutboxRow]) -> None:
        for row in rows:
            self._queue.put(row)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            rows, stopping = next_batch(self._queue, self._batch)
            if rows:
                publish(self._client, rows)


class EventLogPruner:
    """A worker thread that deletes events older than ``EVENTS_KEPT`` (the events list promises
    30 days), a bounded batch at a time, so it never holds many locks or a long transaction.

    Runs in every worker process; ``SKIP LOCKED`` keeps two pruners off the same rows.
    ``prune_once`` is callable from tests after moving the clock.
    """

    def __init__(self, database_url: str, clock: Clock, interval: float = 60.0) -> None:
        self._clock = clock
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-log-pruner", daemon=True)
        # Checked after idling (prunes are a minute apart): PostgreSQL may have restarted.
        self._db = ActorConnection(database_url)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._db.reset()

    def prune_once(self, keep: timedelta = EVENTS_KEPT, limit: int = 5000) -> int:
        """Delete up to ``limit`` events older than ``keep``, oldest first; return how many."""
        conn = self._db.get()
        with conn.transaction():
            # The primary key's (xid, seq) order is close to time order: the oldest rows are
            # read first and the scan stops after ``limit`` of them.
            cur = conn.execute(
                "DELETE FROM outbox WHERE (xid, seq) IN (SELECT xid, seq FROM outbox"
                " WHERE created_at < %s ORDER BY xid, seq LIMIT %s FOR UPDATE SKIP LOCKED)",
                (self._clock.now() - keep, limit))
        return cur.rowcount

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                while self.prune_once() and not self._stop.is_set():
                    pass
            except psycopg.Error as exc:
                log.warning("event log pruner: %s", exc)
                self._db.reset()
