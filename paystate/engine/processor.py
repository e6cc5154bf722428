"""The settlement processor: settles pending payments and refunds when their due time comes.

Fast path: a consumer group on the job streams hands each job to a ``DueQueue``; at the due time
the job becomes a Settle command for the owning shard, and the stream entry is acknowledged
after the shard has committed (by an acker thread, in batches: the shard's thread, which
completes the command, does no Redis round trip of its own). Durable path: a sweeper finds
pending work whose due time passed ``grace`` ago in PostgreSQL (lost with Redis, or left by a
dead process) and settles it too. A duplicate settle is harmless: the shard answers "already
settled" without a transition.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import redis

from . import commands as c
from .acquirer import PaymentModes
from .clock import Clock
from .db import ActorConnection
from .queues import next_batch
from .router import ShardRouter
from .streams import StreamNames, autoclaim, ensure_group, read_group
from .timers import DueQueue

log = logging.getLogger(__name__)
GROUP = "processor"


@dataclass(frozen=True)
class Job:
    stream: str | None  # None: found by the sweeper, no stream entry to acknowledge
    entry_id: str | None
    payload: dict[str, Any]


class SettlementProcessor:
    def __init__(self, database_url: str, router: ShardRouter, client: redis.Redis,
                 streams: StreamNames, clock: Clock, rng: random.Random, modes: PaymentModes,
                 consumer: str, grace: timedelta = timedelta(seconds=3),
                 sweep_interval: float = 1.0, claim_idle_ms: int = 30_000) -> None:
        self._router = router
        self._redis = client
        self._streams = streams
        self._clock = clock
        self._rng = rng
        self._modes = modes
        self._consumer = consumer
        self._grace = grace
        self._sweep_interval = sweep_interval
        self._claim_idle_ms = claim_idle_ms
        self._stop = threading.Event()
        self._reader: redis.Redis | None = None
        self._said_stopping = False
        self._queue = DueQueue(clock, self._settle, name="settle-due")
        self._inflight: set[str] = set()
        self._lock = threading.Lock()
        # Settled stream entries to acknowledge (stream, entry id, ok); None stops the acker.
        self._acks: queue.SimpleQueue[tuple[str, str, bool] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._consume, name="settle-consumer",
                                          daemon=True),
                         threading.Thread(target=self._sweep_loop, name="settle-sweeper",
                                          daemon=True),
                         threading.Thread(target=self._ack_loop, name="settle-acker",
                                          daemon=True)]
        # Checked after idling (sweeps are seconds apart): PostgreSQL may have restarted.
        self._sweep_db = ActorConnection(database_url)

    @property
    def job_streams(self) -> tuple[str, str]:
        return (self._streams.payment_jobs, self._streams.refund_jobs)

    def start(self) -> None:
        for stream in self.job_streams:
            ensure_group(self._redis, stream, GROUP)
        # The consumer's blocking reads have a connection of their own, which stop() cuts, so a
        # stopping process does not wait out a block.
        self._reader = redis.Redis(connection_pool=redis.ConnectionPool(
            **self._redis.connection_pool.connection_kwargs))
        self._queue.start()
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.connection_pool.disconnect()
        self._queue.stop()
        self._acks.put(None)
        for t in self._threads:
            t.join(timeout=5)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._sweep_db.reset()

    # -- steps a test can drive with a frozen clock ----------------------------------------

    def run_due(self, now: datetime | None = None) -> int:
        return self._queue.run_due(now)

    def poll_once(self, block_ms: int | None = None) -> int:
        """Read one batch of new jobs and schedule them at their due times."""
        entries = read_group(self._reader or self._redis, GROUP, self._consumer,
                             {s: ">" for s in self.job_streams}, block_ms=block_ms)
        for stream, entry_id, payload in entries:
            self._schedule(Job(stream, entry_id, payload))
        return len(entries)

    def drain_backlog(self) -> int:
        """Re-read this consumer's own unacknowledged jobs (left by a previous run)."""
        total = 0
        for stream in self.job_streams:
            last = "0"
            while True:
                entries = read_group(self._redis, GROUP, self._consumer, {stream: last},
                                     block_ms=None)
                if not entries:
                    break
                for s, entry_id, payload in entries:
                    self._schedule(Job(s, entry_id, payload))
                    last = entry_id
                total += len(entries)
        return total

    def sweep_once(self, limit: int = 500) -> int:
        """Settle work that PostgreSQL says is overdue, whatever Redis remembers."""
        cutoff = self._clock.now() - self._grace
        conn = self._sweep_db.get()
        payments = conn.execute(
            "SELECT id, order_id, method, test_outcome FROM payments WHERE status = 'pending'"
            " AND settle_due_at <= %s ORDER BY settle_due_at LIMIT %s", (cutoff, limit)).fetchall()
        refunds = conn.execute(
            "SELECT id, order_id FROM refunds WHERE status = 'pending'"
            " AND settle_due_at <= %s ORDER BY settle_due_at LIMIT %s", (cutoff, limit)).fetchall()
        for r in payments:
            self._settle(Job(None, None, {"kind": "settle_payment", "order_id": r["order_id"],
                                          "payment_id": r["id"], "method": r["method"],
                                          "test_outcome": r["test_outcome"]}))
        for r in refunds:
            self._settle(Job(None, None, {"kind": "settle_refund", "order_id": r["order_id"],
                                          "refund_id": r["id"]}))
        return len(payments) + len(refunds)

    # -- internals -----------------------------------------------------------------------

    def _schedule(self, job: Job) -> None:
        try:
            due = datetime.fromisoformat(job.payload["due_at"])
        except (KeyError, ValueError):
            due = self._clock.now()
        self._queue.schedule(due, job)

    def _settle(self, job: Job) -> None:
        p = job.payload
        key = p.get("payment_id") or p.get("refund_id") or ""
        with self._lock:
            if key in self._inflight:
                if job.stream is not None:
                    # Another copy is being settled; acknowledge this one when it is done.
                    self._queue.schedule(self._clock.now() + timedelta(milliseconds=200), job)
                return
            self._inflight.add(key)
        command: c.Command
        if p.get("kind") == "settle_payment":
            # A test-mode payment carries the outcome its instrument decided at creation.
            outcome = self._modes.at_settlement(p.get("method", "upi"), p.get("test_outcome"),
                                                self._rng)
            command = c.SettlePayment(order_id=p["order_id"], payment_id=p["payment_id"],
                                      success=outcome.approved, error_code=outcome.error_code,
                                      error_description=outcome.error_description)
        elif p.get("kind") == "settle_refund":
            command = c.SettleRefund(order_id=p["order_id"], refund_id=p["refund_id"])
        else:
            log.warning("unknown job %r", p)
            self._done(job, key, ok=False)
            return
        future = self._router.submit(command)
        future.add_done_callback(lambda f: self._finished(job, key, f))

    def _finished(self, job: Job, key: str, future: Future) -> None:
        exc = future.exception()
        if exc is not None and self._stop.is_set():
            # The shards refuse what is still queued at a stop: hundreds of lines of one warning
            # each, for entries that stay unacknowledged and that a sweeper settles later.
            if not self._said_stopping:
                self._said_stopping = True
                log.info("stopping: the settlements under way are left to the sweeper")
        elif exc is not None:
            log.warning("settling %s failed (the sweeper retries it): %s", key, exc)
        self._done(job, key, ok=exc is None)

    def _done(self, job: Job, key: str, ok: bool) -> None:
        with self._lock:
            self._inflight.discard(key)
        if job.stream is not None and job.entry_id is not None:
            self._acks.put((job.stream, job.entry_id, ok))

    def _ack_loop(self) -> None:
        """Acknowledge settled entries and count them, a pipeline per batch. An entry whose
        acknowledgement is lost is delivered again and answered "already settled"."""
        stopping = False
        while not stopping:
            done, stopping = next_batch(self._acks, 500)
            if not done:
                continue
            pipe = self._redis.pipeline(transaction=False)
            for stream, entry_id, ok in done:
                if ok:
                    pipe.xack(stream, GROUP, entry_id)
            completed = sum(ok for _stream, _entry, ok in done)
            if completed:
                pipe.hincrby(self._streams.job_stats, "completed", completed)
            if len(done) > completed:
                pipe.hincrby(self._streams.job_stats, "failed", len(done) - completed)
            try:
                pipe.execute()
            except redis.RedisError as exc:
                log.warning("could not acknowledge %d settled jobs: %s", len(done), exc)

    def _consume(self) -> None:
        backlog = True
        last_claim = 0.0
        while not self._stop.is_set():
            try:
                if backlog:
                    self.drain_backlog()
                    backlog = False
                if time.monotonic() - last_claim > 5:
                    last_claim = time.monotonic()
                    for stream in self.job_streams:
                        for s, eid, payload in autoclaim(self._redis, stream, GROUP,
                                                         self._consumer, self._claim_idle_ms):
                            self._schedule(Job(s, eid, payload))
                self.poll_once(block_ms=500)
            except redis.RedisError as exc:
                if self._stop.is_set():
                    break  # stop() cut the blocking read short
                log.warning("job consumer: %s", exc)
                backlog = True
                self._stop.wait(1.0)

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self._sweep_interval):
            try:
                self.sweep_once()
            except psycopg.Error as exc:
                log.warning("sweeper: %s", exc)
                self._sweep_db.reset()
