"""Operators' console sessions in PostgreSQL (``operator_sessions``, migration 016), on the
pattern of the merchants' ``sessions.py`` and in a table of their own: a merchant's dashboard
cookie names no operator session, and an operator's cookie no dashboard session.

The cookie carries 32 random bytes; only their SHA-256 is stored. A session lasts at most
``lifetime`` and ends after ``idle`` without a request; ``last_seen_at`` is written at most once
per ``TOUCH_EVERY``. Coroutines on the front's event loop; scrypt runs on a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from .operators import Operator
from .secrets_hash import check_password, hash_password
from .sessions import MAX_TOKEN_CHARS, SessionTable, open_session, token_key, touch


@functools.cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so a wrong email costs what a wrong password does."""
    return hash_password("paystate-ops-no-such-operator", salt=b"\0" * 16)


class OperatorSessions(SessionTable):
    table = "operator_sessions"

    async def login(self, email: str, password: str) -> tuple[Operator, str] | None:
        """The operator and the token of a new session if the password is right, else None."""
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT id, email, role, password_hash FROM operators"
                                     " WHERE lower(email) = lower(%s)", (email,))
            row = await cur.fetchone()
        stored = row["password_hash"] if row else None
        ok = await asyncio.to_thread(check_password, password, stored or _dummy_hash())
        if row is None or not ok:
            return None
        async with self._pool.connection() as conn:
            token = await open_session(conn, "operator_sessions", {"operator_id": row["id"]},
                                       self._clock.now(), self._lifetime, self._idle)
        return _operator(row), token

    async def find(self, token: str) -> Operator | None:
        """The operator whose live session ``token`` names, else None."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        key, now = token_key(token), self._clock.now()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT o.id, o.email, o.role, s.last_seen_at FROM operator_sessions s"
                " JOIN operators o ON o.id = s.operator_id"
                " WHERE s.id_hash = %s AND s.expires_at > %s AND s.last_seen_at > %s",
                (key, now, now - self._idle))
            row = await cur.fetchone()
            if row is None:
                return None
            await touch(conn, "operator_sessions", key, row["last_seen_at"], now)
        return _operator(row)


def _operator(row: dict[str, Any]) -> Operator:
    return Operator(str(row["id"]), row["email"], row["role"])
