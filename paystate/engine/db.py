"""PostgreSQL connections: one synchronous connection per actor thread, an async pool for reads."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, errors
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

#: The pool the fronts' reads use: rows come back as dicts.
ReadPool = AsyncConnectionPool[AsyncConnection[DictRow]]
PooledConnection = AsyncConnection[DictRow]
T = TypeVar("T")


def connect(url: str, autocommit: bool = False) -> psycopg.Connection[dict[str, Any]]:
    """A dedicated connection for one thread (psycopg connections are not shared across threads
    here: each shard actor, the processor and the pruner own theirs)."""
    return psycopg.connect(url, autocommit=autocommit, row_factory=dict_row, connect_timeout=5)


class ActorConnection:
    """The lazily (re)opened autocommit connection of one actor or worker thread.

    ``get()`` opens it on first use or after ``reset()``; an actor resets it after a database
    error so the next message starts on a fresh connection instead of a broken one. A
    connection that sat idle longer than ``idle_check_s`` is checked with one round trip
    before it is handed out: PostgreSQL may have restarted meanwhile, and an actor that had
    nothing to do during the outage would otherwise fail its first command after it (a busy
    actor never pays for the check).
    """

    def __init__(self, url: str, idle_check_s: float = 2.0) -> None:
        self._url = url
        self._idle_check_s = idle_check_s
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._used = 0.0

    def get(self) -> psycopg.Connection[dict[str, Any]]:
        now = time.monotonic()
        if self._conn is not None and not self._conn.closed \
                and now - self._used > self._idle_check_s:
            try:
                self._conn.execute("SELECT 1")
            except psycopg.Error:
                self.reset()
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._url, autocommit=True)
        self._used = now
        return self._conn

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def read_pool(url: str, max_size: int = 8, *, flush_commits: bool = True) -> ReadPool:
    """The pool the bridge uses for read-only queries on the event loop. Opened by the caller.

    ``flush_commits=False``: its commits do not wait for the WAL flush (``synchronous_commit =
    off``), for writes that a durable commit made later on any connection flushes anyway (WAL is
    flushed in order) and that are harmless to lose when none follows: idempotency claims.

    While PostgreSQL is down a request waits at most ``timeout`` (5 s) for a connection, then
    fails with ``PoolTimeout`` (answered 503). The pool's own reconnect attempts back off
    exponentially (1, 2, 4, 8 s...), which after a 10 s outage would keep it empty for another
    5-20 s; a short ``reconnect_timeout`` makes it give those up, and the next request then
    opens a connection at once.

    Every connection is checked (one empty round trip) when a request takes it: a restart
    kills the connections the pool holds, and without the check each of them would fail one
    request, however long after the restart it is next used. A connection that fails the
    check is discarded and the next one (or a new one) is tried within the same ``timeout``.
    What the check cannot see, a connection dying between the check and the statement, is
    ``run_pooled``'s to absorb."""
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
    if not flush_commits:
        kwargs["options"] = "-c synchronous_commit=off"
    return AsyncConnectionPool(
        url,
        connection_class=AsyncConnection[DictRow],
        min_size=1,
        max_size=max_size,
        kwargs=kwargs,
        open=False,
        timeout=5,
        reconnect_timeout=2,
        check=AsyncConnectionPool.check_connection,
    )


def ended_by_server(exc: psycopg.OperationalError, conn: PooledConnection) -> bool:
    """True when ``exc`` means the server ended this connection (a restart's or crash's
    termination notice, SQLSTATE 57P01/57P02, or the socket gone: the connection is closed),
    as opposed to a statement that failed on a live connection (a timeout, a cancel)."""
    return conn.closed or isinstance(exc, (errors.AdminShutdown, errors.CrashShutdown))


async def run_pooled(pool: ReadPool, work: Callable[[PooledConnection], Awaitable[T]]) -> T:
    """Run ``work`` on a connection of ``pool`` and return its result; when the server ended
    that connection under it, run ``work`` once more on a fresh one. Runs on the loop.

    Only for work that is safe to run twice: reads, updates that set given values (a
    merchant's webhook settings), and the idempotency store's statements (each conditional,
    so a second run finds the first's effect). A second failure, a
    pool that gives no connection (``PoolTimeout``) and every other error propagate: they are
    the caller's 503 or 500."""
    conn: PooledConnection | None = None
    try:
        async with pool.connection() as conn:
            return await work(conn)
    except psycopg.OperationalError as exc:
        if conn is None or not ended_by_server(exc, conn):
            raise
        # The pool discarded the dead connection on the way out of the block above.
        log.info("connection ended by the server (%s); retrying on a fresh one",
                 type(exc).__name__)
    async with pool.connection() as conn:
        return await work(conn)


async def counted_page(pool: ReadPool, table: str, where: str, params: tuple[Any, ...],
                       limit: int, offset: int, *, columns: str = "*",
                       order: str = "created_at DESC, id DESC") -> tuple[list[dict[str, Any]], int]:
    """One page of ``table``'s rows matching ``where`` (newest first by default) and how many
    match in all, on one pooled connection. ``table``, ``where``, ``columns`` and ``order`` are
    the caller's constants, never client text; values travel in ``params``."""
    async def page(conn: PooledConnection) -> tuple[dict[str, Any] | None,
                                                    list[dict[str, Any]]]:
        cur = await conn.execute(f"SELECT count(*) AS n FROM {table} WHERE {where}", params)
        total = await cur.fetchone()
        cur = await conn.execute(f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {order}"
                                 " LIMIT %s OFFSET %s", (*params, limit, offset))
        return total, await cur.fetchall()
    total, rows = await run_pooled(pool, page)
    return rows, int(total["n"] if total else 0)
