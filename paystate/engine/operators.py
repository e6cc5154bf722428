"""Operators: the people who run a Paystate deployment (not merchants). Each has a role,
``admin`` (may change things) or ``viewer`` (reads only), a password for the operator
console's sign-in and an API token for the admin API (``Authorization: Bearer``). Both are
shown once, when the operator is made, and stored hashed: scrypt for the password, SHA-256 for
the token (a long random string), looked up by its hash.

``create_operator`` and ``seed_demo_operator`` run on the caller's thread (the command line,
``paystate seed``); ``OperatorTokens`` answers the admin API on the event loop.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ..machines.emails import is_email
from .db import PooledConnection, ReadPool, connect, run_pooled
from .secrets_hash import hash_api_secret, hash_password

ROLES = ("admin", "viewer")
DEMO_OPERATOR = {"email": "ops@example.com", "token": "ops_test_abc123", "role": "admin"}


class OperatorExists(Exception):
    """An operator with this email exists already."""


@dataclass(frozen=True)
class Operator:
    id: str
    email: str
    role: str

    @property
    def may_change(self) -> bool:
        return self.role == "admin"


def new_token() -> str:
    return "ops_" + secrets.token_urlsafe(32)


def create_operator(database_url: str, email: str, role: str, now: datetime) -> dict[str, Any]:
    """Make an operator; return ``{id, email, role, password, api_token}``, the only time the
    password and the token are shown. ``OperatorExists`` for a taken email (any case);
    ``ValueError`` for a role other than admin or viewer, or an empty email."""
    if role not in ROLES:
        raise ValueError(f"role must be one of: {', '.join(ROLES)}")
    email = email.strip()
    if not is_email(email):
        raise ValueError("email must be an email address")
    password, token = secrets.token_urlsafe(18), new_token()
    operator_id = str(uuid.uuid4())
    try:
        with connect(database_url, autocommit=True) as conn:
            conn.execute("INSERT INTO operators (id, email, role, password_hash, token_hash,"
                         " created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                         (operator_id, email, role, hash_password(password),
                          hash_api_secret(token), now))
    except psycopg.errors.UniqueViolation:
        raise OperatorExists(f"an operator with email {email} exists already") from None
    return {"id": operator_id, "email": email, "role": role, "password": password,
            "api_token": token}


def seed_demo_operator(database_url: str, password: str, now: datetime) -> None:
    """The demo operator (``ops@example.com``, admin, token ``ops_test_abc123``), idempotently;
    only where the deployment asks for the demo merchant (``paystate seed``)."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO operators (id, email, role, password_hash, token_hash, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT ((lower(email))) DO UPDATE"
            " SET password_hash = EXCLUDED.password_hash, token_hash = EXCLUDED.token_hash,"
            " role = EXCLUDED.role",
            (str(uuid.uuid5(uuid.NAMESPACE_URL, "paystate:demo-operator")),
             DEMO_OPERATOR["email"], DEMO_OPERATOR["role"], hash_password(password),
             hash_api_secret(DEMO_OPERATOR["token"]), now))


class OperatorTokens:
    """The admin API's authentication: the operator whose token this is, or None. The token
    is looked up by its SHA-256, so no comparison of secrets leaks through timing."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def operator(self, token: str) -> Operator | None:
        if not token or len(token) > 255 or "\x00" in token:
            return None

        async def find(conn: PooledConnection) -> dict[str, Any] | None:
            cur = await conn.execute("SELECT id, email, role FROM operators"
                                     " WHERE token_hash = %s", (hash_api_secret(token),))
            return await cur.fetchone()
        row = await run_pooled(self._pool, find)
        return Operator(str(row["id"]), row["email"], row["role"]) if row else None
