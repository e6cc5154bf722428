"""What the operator console and ``GET /admin/v1/stats`` show about the whole deployment:
objects per machine state, the last 5 minutes' rates, stuck work, workers, the Redis consumer
groups, and whether PostgreSQL and Redis answer.

Cheap at any data size, since the live overview reruns every few seconds:
- counts are the sums of ``state_counts`` (a few rows per writing connection, kept by
  migration 016's triggers), never a count over the objects;
- rates are index range scans of the last 5 minutes of ``transitions`` (its
  ``(entity_type, at)`` index);
- stuck work reads the partial indexes on due times (``payments_pending_due_idx``,
  ``refunds_pending_due_idx``, ``webhook_logs_due_idx``), at most ``STUCK_SHOWN`` rows each,
  and counts at most ``STUCK_COUNTED``;
- workers, groups and health are a handful of Redis commands.

Coroutines on the front's event loop (async pool, async Redis client). ``overview`` keeps its
answer for ``cache_s`` per mode, so any number of open consoles costs one set of queries.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..encoding import iso
from .clock import Clock
from .db import PooledConnection, ReadPool, run_pooled
from .heartbeat import STALE_AFTER_S
from .history import counts_as_of
from .metrics import Metrics
from .streams import StreamNames

MACHINES = {"payment": "payments", "refund": "refunds", "webhook_delivery": "webhook_logs"}
#: Work this late past its due time is stuck: the sweepers run every few hundred ms.
STUCK_AFTER = timedelta(seconds=60)
STUCK_SHOWN = 20
STUCK_COUNTED = 1000
RATE_WINDOW = timedelta(minutes=5)

_COUNTS = ("SELECT kind, livemode, state, sum(n)::bigint AS n FROM state_counts"
           " GROUP BY kind, livemode, state")
# Per machine: the creations (from_state NULL) and the finishes in the window.
_RATES = (
    "SELECT entity_type, count(*) FILTER (WHERE from_state IS NULL) AS created,"
    " count(*) FILTER (WHERE to_state IN ('success', 'succeeded', 'processed')) AS succeeded,"
    " count(*) FILTER (WHERE to_state = 'failed') AS failed"
    " FROM transitions WHERE entity_type = ANY(%s) AND at > %s GROUP BY entity_type")
_STUCK = {
    "payment": ("SELECT id::text AS id, merchant_id, livemode, status, settle_due_at AS due_at"
                " FROM payments WHERE status = 'pending' AND settle_due_at < %s"
                " ORDER BY settle_due_at LIMIT %s"),
    "refund": ("SELECT id::text AS id, merchant_id, livemode, status, settle_due_at AS due_at"
               " FROM refunds WHERE status = 'pending' AND settle_due_at < %s"
               " ORDER BY settle_due_at LIMIT %s"),
    "webhook_delivery": (
        "SELECT id::text AS id, merchant_id, livemode, status, next_retry_at AS due_at"
        " FROM webhook_logs WHERE status IN ('pending', 'retrying') AND next_retry_at < %s"
        " ORDER BY next_retry_at LIMIT %s"),
}


class OpsQueries:
    def __init__(self, pool: ReadPool, redis: aioredis.Redis, streams: StreamNames,
                 clock: Clock, cache_s: float = 1.0) -> None:
        self._pool = pool
        self._redis = redis
        self._streams = streams
        self._clock = clock
        self.cache_s = cache_s
        self._cached: dict[bool | None, tuple[float, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()

    async def overview(self, livemode: bool | None = None) -> dict[str, Any]:
        """``{at, mode, counts: {machine: {state: n}}, rates, stuck, workers, streams,
        health}`` for one mode (``livemode``) or both (None)."""
        async with self._lock:
            hit = self._cached.get(livemode)
            if hit is not None and time.monotonic() - hit[0] < self.cache_s:
                return hit[1]
            figures = await self._figures(livemode)
            self._cached[livemode] = (time.monotonic(), figures)
            return figures

    async def counts_as_of(self, at: datetime, livemode: bool | None) -> dict[str, Any]:
        """Every merchant's objects per machine and state at ``at``, rebuilt from the
        transitions (``history.counts_as_of``): the overview's counts at an instant. Not
        cached and not live: it answers one question about the past."""
        return await counts_as_of(self._pool, at, None, livemode)

    async def export(self, metrics: Metrics) -> None:
        """Set the console's gauges on ``metrics`` (called when /metrics is scraped): stuck
        work per machine, each consumer group's lag and pending entries, objects per state.
        The figures are the overview's, cached for ``cache_s``: a scrape costs what an open
        console does."""
        for mode, livemode in (("test", False), ("live", True)):
            figures = await self.overview(livemode)
            for machine, states in figures["counts"].items():
                for state, n in states.items():
                    metrics.objects.labels(machine, mode, state).set(n)
        figures = await self.overview(None)
        for machine, stuck in figures["stuck"].items():
            metrics.stuck_work.labels(machine).set(stuck["count"])
        for g in figures["streams"]:
            metrics.consumer_lag.labels(g["stream"], g["group"]).set(g["lag"] or 0)
            metrics.consumer_pending.labels(g["stream"], g["group"]).set(g["pending"])

    async def _figures(self, livemode: bool | None) -> dict[str, Any]:
        now = self._clock.now()
        database = await self._database(livemode, now)
        workers, streams, redis_health = await self._redis_figures()
        return {"at": iso(now), "mode": {None: "all", True: "live", False: "test"}[livemode],
                **{k: v for k, v in database.items() if k != "health"}, "workers": workers,
                "streams": streams, "health": {"postgres": database["health"],
                                               "redis": redis_health}}

    async def _database(self, livemode: bool | None, now: Any) -> dict[str, Any]:
        async def read(conn: PooledConnection) -> dict[str, Any]:
            started = time.perf_counter()
            counts: dict[str, dict[str, int]] = {m: {} for m in MACHINES}
            for r in await (await conn.execute(_COUNTS)).fetchall():
                if livemode is None or r["livemode"] == livemode:
                    by_state = counts.setdefault(r["kind"], {})
                    by_state[r["state"]] = by_state.get(r["state"], 0) + int(r["n"])
            rates = {m: {"created": 0, "succeeded": 0, "failed": 0} for m in MACHINES}
            cur = await conn.execute(_RATES, (list(MACHINES), now - RATE_WINDOW))
            for r in await cur.fetchall():
                rates[r["entity_type"]] = {k: int(r[k]) for k in ("created", "succeeded",
                                                                  "failed")}
            stuck = {}
            for machine, sql in _STUCK.items():
                rows = await (await conn.execute(sql, (now - STUCK_AFTER, STUCK_COUNTED))
                              ).fetchall()
                if livemode is not None:
                    rows = [r for r in rows if r["livemode"] == livemode]
                stuck[machine] = {"count": len(rows), "more": len(rows) >= STUCK_COUNTED,
                                  "items": [_stuck_item(machine, r, now)
                                            for r in rows[:STUCK_SHOWN]]}
            return {"counts": {m: {s: n for s, n in sorted(states.items()) if n}
                               for m, states in counts.items()},
                    "rates": {"window_s": int(RATE_WINDOW.total_seconds()), **rates},
                    "stuck": stuck,
                    "health": {"ok": True,
                               "ms": round((time.perf_counter() - started) * 1000, 1)}}
        try:
            return await run_pooled(self._pool, read)
        except psycopg.Error as exc:  # the overview shows an outage instead of failing with it
            return {"counts": {}, "rates": {}, "stuck": {},
                    "health": {"ok": False, "error": type(exc).__name__}}

    async def _redis_figures(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                            dict[str, Any]]:
        started = time.perf_counter()
        try:
            await self._redis.ping()
            beats: list[Any] = await self._redis.zrange(self._streams.workers, 0, -1,
                                                        withscores=True)
            groups = []
            for stream in (*self._streams.job_streams, self._streams.events):
                groups += await self._groups(stream)
        except RedisError as exc:
            return [], [], {"ok": False, "error": type(exc).__name__}
        now = time.time()
        workers = [{"id": _text(name), "last_seen_s": round(now - score, 1),
                    "alive": now - score < STALE_AFTER_S} for name, score in beats]
        return workers, groups, {"ok": True,
                                 "ms": round((time.perf_counter() - started) * 1000, 1)}

    async def _groups(self, stream: str) -> list[dict[str, Any]]:
        """XINFO GROUPS of ``stream``: pending entries and lag per consumer group (none when
        the stream does not exist yet)."""
        try:
            groups = await self._redis.xinfo_groups(stream)
            length = await self._redis.xlen(stream)
        except aioredis.ResponseError:  # no such stream yet
            return []
        return [{"stream": stream, "group": _text(g["name"]), "consumers": int(g["consumers"]),
                 "pending": int(g["pending"]),
                 "lag": None if g.get("lag") is None else int(g["lag"]), "length": int(length)}
                for g in groups]


def _stuck_item(machine: str, row: dict[str, Any], now: Any) -> dict[str, Any]:
    return {"id": row["id"], "merchant_id": str(row["merchant_id"]),
            "livemode": row["livemode"], "status": row["status"], "due_at": iso(row["due_at"]),
            "late_s": int((now - row["due_at"]).total_seconds())}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
