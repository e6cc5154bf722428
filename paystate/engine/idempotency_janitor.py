"""The idempotency keys' janitor: expired keys (``expires_at``, 24 h after their answer) are
deleted in batches by a worker thread, so the table holds a day of keys, not every key ever."""

from __future__ import annotations

import logging
import threading

import psycopg

from .clock import Clock
from .db import ActorConnection

log = logging.getLogger(__name__)


class IdempotencyJanitor:
    """A worker thread that deletes expired keys in batches, every ``interval`` seconds.

    Runs in every worker process; ``FOR UPDATE SKIP LOCKED`` keeps two janitors (and a claim
    overwriting an expired key) off the same rows. ``sweep_once`` is callable from tests after
    moving the clock.
    """

    def __init__(self, database_url: str, clock: Clock, interval: float = 60.0,
                 batch: int = 1000, max_batches: int = 100) -> None:
        self._clock = clock
        self._interval = interval
        self._batch = batch
        self._max_batches = max_batches
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idempotency-janitor",
                                        daemon=True)
        # Checked after idling (sweeps are minutes apart): PostgreSQL may have restarted.
        # The connection is shared by the thread and a test calling sweep_once.
        self._db = ActorConnection(database_url)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            self._db.reset()

    def sweep_once(self) -> int:
        """Delete keys expired by the clock's now, at most ``max_batches`` batches; return how
        many. Runs on the caller's thread (the janitor's own, or a test's)."""
        with self._lock:
            return self._sweep()

    def _sweep(self) -> int:
        conn = self._db.get()
        now = self._clock.now()
        total = 0
        for _ in range(self._max_batches):
            cur = conn.execute(
                "DELETE FROM idempotency_keys k USING ("
                " SELECT merchant_id, scope, key FROM idempotency_keys"
                " WHERE expires_at <= %(now)s"
                " ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) old"
                " WHERE k.merchant_id = old.merchant_id AND k.scope = old.scope"
                " AND k.key = old.key"
                " AND k.expires_at <= %(now)s", {"now": now, "limit": self._batch})
            total += cur.rowcount
            if cur.rowcount < self._batch:
                break
        if total:
            log.info("deleted %d expired idempotency keys", total)
        # The same minute's other chore: fold the state counters of connections that have
        # gone into one row each (migration 016), so /ops sums a few rows, not one per
        # connection ever opened.
        conn.execute("SELECT paystate_fold_state_counts()")
        return total

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.sweep_once()
            except psycopg.Error as exc:
                log.warning("idempotency janitor: %s", exc)
                with self._lock:
                    self._db.reset()
