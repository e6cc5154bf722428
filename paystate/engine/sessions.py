"""Dashboard sessions in PostgreSQL: made at sign-in, looked up on every dashboard request,
ended by logout, a password change or a suspension, at once and in every process.

The cookie carries a random 32-byte id (base64url, 43 characters); the table keeps only its
SHA-256, so a copy of the table opens no session. A session lasts at most ``lifetime`` from
sign-in and ends after ``idle`` without a request; ``last_seen_at`` is written at most once
per ``TOUCH_EVERY``, so a page that polls does not write a row per request.

``SessionStore``'s coroutines run on the front's event loop over the async pool. The module
function ``end_sessions`` takes a synchronous connection, for callers that change a merchant
in a transaction of their own (the seed's password reset, a suspension) and must end its
sessions in that same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import psycopg

from .clock import Clock
from .db import PooledConnection, ReadPool

TOKEN_BYTES = 32
#: A longer value is no token of ours; refused before it is hashed.
MAX_TOKEN_CHARS = 64
TOUCH_EVERY = timedelta(minutes=1)

_END_ALL = "DELETE FROM dashboard_sessions WHERE merchant_id = %s"
_END_ONE = "DELETE FROM dashboard_sessions WHERE id_hash = %s"


def token_key(token: str) -> bytes:
    """What the table keeps of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


def password_stamp(password_hash: str | None) -> str:
    """Changes whenever the merchant's password does: a session made before a password change,
    by whatever path, does not outlive it."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def end_sessions(conn: psycopg.Connection[Any], merchant_id: str) -> int:
    """End every dashboard session of the merchant in the caller's transaction (it commits
    with the change that calls for it); return how many there were."""
    return conn.execute(_END_ALL, (merchant_id,)).rowcount


async def open_session(conn: PooledConnection, table: str, owner: dict[str, Any],
                       now: datetime, lifetime: timedelta, idle: timedelta) -> str:
    """Insert a new session into ``table`` (``dashboard_sessions`` or ``operator_sessions``,
    a constant of the caller) with the ``owner`` columns; return the token for its cookie.
    Sign-in is rare and rate limited: the moment to drop whatever sessions ran out, anyone's,
    so the table holds live sessions only."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await conn.execute(f"DELETE FROM {table} WHERE expires_at <= %s OR last_seen_at <= %s",
                       (now, now - idle))
    columns = ", ".join(owner)
    await conn.execute(
        f"INSERT INTO {table} (id_hash, created_at, last_seen_at, expires_at, {columns})"
        f" VALUES (%s, %s, %s, %s{', %s' * len(owner)})",
        (token_key(token), now, now, now + lifetime, *owner.values()))
    return token


async def touch(conn: PooledConnection, table: str, key: bytes, seen: datetime,
                now: datetime) -> None:
    """Record the session's use, at most once per ``TOUCH_EVERY``."""
    if now - seen >= TOUCH_EVERY:
        await conn.execute(f"UPDATE {table} SET last_seen_at = %s WHERE id_hash = %s",
                           (now, key))


class SessionTable:
    """What the merchants' and the operators' sessions share: their table (a constant of the
    subclass), lifetime and idle limit, and logout."""

    table = "dashboard_sessions"

    def __init__(self, pool: ReadPool, clock: Clock, *, lifetime: timedelta,
                 idle: timedelta) -> None:
        self._pool = pool
        self._clock = clock
        self._lifetime = lifetime
        self._idle = idle

    async def end(self, token: str) -> None:
        """Logout: the session ``token`` names ends (nothing happens if it had already)."""
        if token and len(token) <= MAX_TOKEN_CHARS:
            async with self._pool.connection() as conn:
                await conn.execute(f"DELETE FROM {self.table} WHERE id_hash = %s",
                                   (token_key(token),))


class SessionStore(SessionTable):
    """Merchants' dashboard sessions."""

    async def start(self, merchant_id: str, password_hash: str | None) -> str:
        """A new session of the merchant; returns the token for its cookie."""
        async with self._pool.connection() as conn:
            return await open_session(conn, "dashboard_sessions",
                                      {"merchant_id": merchant_id,
                                       "password_stamp": password_stamp(password_hash)},
                                      self._clock.now(), self._lifetime, self._idle)

    async def find(self, token: str) -> dict[str, Any] | None:
        """The merchant row of the session ``token`` names, or None: unknown, ended, past its
        lifetime, idle too long, or its merchant's password changed since sign-in."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        key = token_key(token)
        now = self._clock.now()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT s.password_stamp AS session_stamp, s.last_seen_at AS session_seen, m.*,"
                " k.api_key FROM dashboard_sessions s JOIN merchants m ON m.id = s.merchant_id"
                " LEFT JOIN merchant_keys k ON k.merchant_id = m.id AND k.mode = 'test'"
                " WHERE s.id_hash = %s AND s.expires_at > %s AND s.last_seen_at > %s",
                (key, now, now - self._idle))
            row = await cur.fetchone()
            if row is None:
                return None
            stamp, seen = row.pop("session_stamp"), row.pop("session_seen")
            if stamp != password_stamp(row["password_hash"]):
                await conn.execute(_END_ONE, (key,))
                return None
            await touch(conn, "dashboard_sessions", key, seen, now)
        return row

    async def end_sessions(self, merchant_id: str) -> int:
        """Every session of the merchant ends; how many there were."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(_END_ALL, (merchant_id,))
            return cur.rowcount
