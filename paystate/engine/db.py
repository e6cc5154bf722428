"""PostgreSQL connections: one synchronous connection per actor thread, an async pool for reads."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

#: The pool the fronts' reads use: rows come back as dicts.
ReadPool = AsyncConnectionPool[AsyncConnection[DictRow]]


def connect(url: str, autocommit: bool = False) -> psycopg.Connection[dict[str, Any]]:
    """A dedicated connection for one thread (psycopg connections are not shared across threads
    here: each shard actor, the processor and the relay own theirs)."""
    return psycopg.connect(url, autocommit=autocommit, row_factory=dict_row, connect_timeout=5)


class ActorConnection:
    """The lazily (re)opened autocommit connection of one actor thread.

    ``get()`` opens it on first use or after ``reset()``; an actor resets it after a database
    error so the next message starts on a fresh connection instead of a broken one.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[dict[str, Any]] | None = None

    def get(self) -> psycopg.Connection[dict[str, Any]]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._url, autocommit=True)
        return self._conn

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def read_pool(url: str, max_size: int = 8, *, flush_commits: bool = True) -> ReadPool:
    """The pool the bridge uses for read-only queries on the event loop. Opened by the caller.

    ``flush_commits=False``: its commits do not wait for the WAL flush (``synchronous_commit =
    off``), for writes that a durable commit made later on any connection flushes anyway (WAL is
    flushed in order) and that are harmless to lose when none follows: idempotency claims."""
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
    )
