"""The events list: what a merchant reconciles its endpoints against.

The events are the outbox's rows of the events stream, written once, in the transaction of the
change that emitted them. Migration 014 reads each one's ``evt_`` id, merchant and mode out of
its payload into generated columns, indexed for this list; the event log pruner keeps them
30 days (``outbox.EVENTS_KEPT``). Newest first, by the outbox's ``seq``.
"""

from __future__ import annotations

from typing import Any

from ..db import PooledConnection, ReadPool, run_pooled
from ..errors import NotFound
from ..merchants import Merchant

_COLUMNS = "seq, event_id, payload, created_at"
_MINE = "event_merchant_id = %s AND event_livemode = %s AND event_id IS NOT NULL"
_ONE = f"SELECT {_COLUMNS} FROM outbox WHERE event_id = %s AND {_MINE}"
MAX_LIMIT = 100


class EventLog:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def page(self, merchant: Merchant, limit: int, type_: str | None,
                   starting_after: str | None) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` events of the caller's mode, newest first, older than the event
        ``starting_after`` (a cursor: an id from the previous page), of ``type_`` if given;
        and whether there are more."""
        where = [_MINE]
        params: list[Any] = [merchant.id, merchant.livemode]
        if type_:
            where.append("payload->>'event' = %s")
            params.append(type_)

        async def read(conn: PooledConnection) -> tuple[list[dict[str, Any]], bool]:
            if starting_after:
                cur = await conn.execute(_ONE, (starting_after, merchant.id, merchant.livemode))
                cursor = await cur.fetchone()
                if cursor is None:
                    raise NotFound("Event")
                where.append("seq < %s")
                params.append(cursor["seq"])
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE {' AND '.join(where)}"
                " ORDER BY seq DESC LIMIT %s", (*params, limit + 1))
            rows = await cur.fetchall()
            return rows[:limit], len(rows) > limit
        return await run_pooled(self._pool, read)

    async def get(self, merchant: Merchant, event_id: str) -> dict[str, Any]:
        async def read(conn: PooledConnection) -> dict[str, Any] | None:
            cur = await conn.execute(_ONE, (event_id, merchant.id, merchant.livemode))
            return await cur.fetchone()
        row = await run_pooled(self._pool, read)
        if row is None:
            raise NotFound("Event")
        return row
