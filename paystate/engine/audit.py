"""The audit log: who did what to which merchant, endpoint or delivery, and when.

Every operator action (suspend, reinstate, creating a merchant, disabling or enabling an
endpoint, retrying a delivery, recovering an endpoint) and every merchant key or secret roll
appends one row. ``append`` writes it on the caller's synchronous connection, inside the
caller's transaction, so the row commits with the change or not at all; ``append_async`` does
the same on a pooled async connection. Nothing here updates or deletes a row, and migration
016's trigger makes PostgreSQL refuse UPDATE, DELETE and TRUNCATE of ``audit_log``.

``AuditLog.page`` reads it newest first for the console and the admin API (the front's event
loop, over the async pool).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from ..encoding import iso
from .db import PooledConnection, ReadPool, run_pooled

KINDS = ("operator", "merchant", "cli")
#: The longest page a reader may ask for.
MAX_PAGE = 200

_APPEND = ("INSERT INTO audit_log (at, actor, actor_kind, action, target, details)"
           " VALUES (%s, %s, %s, %s, %s, %s::jsonb)")


@dataclass(frozen=True)
class Actor:
    """Who acts: ``kind`` "operator" (``name`` the operator's email), "merchant" (its id)
    or "cli" (the command line, ``name`` the user who ran it)."""

    kind: str
    name: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"actor kind must be one of {KINDS}")


def command_line() -> Actor:
    """The command line's actor: the operating system user who ran ``paystate ...``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor("cli", user)


def merchant_actor(merchant_id: str) -> Actor:
    return Actor("merchant", str(merchant_id))


def _values(actor: Actor, action: str, target: str, details: dict[str, Any] | None,
            at: datetime) -> tuple[Any, ...]:
    return (at, actor.name, actor.kind, action, target,
            orjson.dumps(details or {}, default=str).decode())


def append(conn: psycopg.Connection[Any], actor: Actor, action: str, target: str,
           details: dict[str, Any] | None, at: datetime) -> None:
    """One row, in the caller's transaction on ``conn`` (any thread that owns ``conn``)."""
    conn.execute(_APPEND, _values(actor, action, target, details, at))


async def append_async(conn: PooledConnection, actor: Actor, action: str, target: str,
                       details: dict[str, Any] | None, at: datetime) -> None:
    """``append`` on an async connection (the caller's transaction, if it opened one)."""
    await conn.execute(_APPEND, _values(actor, action, target, details, at))


def row_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(row["id"]), "at": iso(row["at"]), "actor": row["actor"],
            "actor_kind": row["actor_kind"], "action": row["action"], "target": row["target"],
            "details": row["details"]}


class AuditLog:
    """Reads, on the event loop."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def page(self, limit: int = 50, before: int | None = None,
                   target: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """Rows newest first, at most ``limit`` (1 to ``MAX_PAGE``), those with an id below
        ``before`` when given (the previous page's cursor), of one ``target`` when given; and
        the cursor of the next page, None on the last."""
        limit = max(1, min(int(limit), MAX_PAGE))
        where: list[str] = ["true"]
        params: list[Any] = []
        if before is not None:
            where.append("id < %s")
            params.append(before)
        if target is not None:
            where.append("target = %s")
            params.append(target)

        async def read(conn: PooledConnection) -> list[dict[str, Any]]:
            cur = await conn.execute(
                "SELECT id, at, actor, actor_kind, action, target, details FROM audit_log"
                f" WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s", (*params, limit + 1))
            return await cur.fetchall()
        rows = await run_pooled(self._pool, read)
        more = len(rows) > limit
        rows = rows[:limit]
        return [row_json(r) for r in rows], (int(rows[-1]["id"]) if more else None)
