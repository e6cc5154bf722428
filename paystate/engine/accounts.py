"""Merchant accounts, for the people who run the gateway: create, list, read, suspend,
reinstate, and a merchant's own key roll.

``Accounts`` is synchronous (one short PostgreSQL connection per call): the command line
(``paystate merchants ...``) calls it directly, and ``AsyncAccounts`` runs the same methods in
a worker thread for an HTTP front (the merchant API's key roll; an operator admin API). Every
change that alters who may authenticate is announced on the merchants channel
(``merchant_changes``), so every process's auth cache forgets the merchant at once.

Errors: ``DuplicateEmail`` (a front answers 409), ``NotFound("Merchant")`` (404),
``machines.errors.ValidationError`` for bad input (400).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from ..encoding import iso
from ..machines.emails import is_email
from ..machines.errors import ValidationError
from .audit import Actor, append, command_line, merchant_actor
from .clock import Clock
from .db import connect
from .errors import EngineError, NotFound
from .ids import new_id, uuid_text
from .merchants import MERCHANT_BY_EMAIL, create_merchant
from .secrets_hash import hash_api_secret, hash_password, new_webhook_secret
from .sessions import end_sessions

MODES = ("test", "live")
#: How long a rolled secret keeps working, at most (hours).
MAX_ROLL_EXPIRY_HOURS = 168
_LIST = ("SELECT id, name, email, status, created_at FROM merchants"
         " ORDER BY created_at, id")
_ONE = "SELECT id, name, email, status, created_at FROM merchants WHERE id = %s"
_KEYS = "SELECT api_key, mode FROM merchant_keys WHERE merchant_id = %s ORDER BY mode"


class DuplicateEmail(EngineError):
    """Another merchant has this email (compared without case)."""

    def __init__(self, email: str) -> None:
        super().__init__(f"A merchant with email {email} already exists")


def new_key_pair(mode: str) -> tuple[str, str]:
    """(api_key, api_secret) of a mode, from a cryptographic random source."""
    return new_id(f"key_{mode}_"), f"secret_{mode}_" + secrets.token_urlsafe(24)


@dataclass
class Accounts:
    """``database_url``: the gateway's database; ``clock``: now; ``announce(merchant_id,
    api_keys)``: tell every process (``ChangeAnnouncer.announce``; a no-op is fine where
    no process caches, e.g. an empty deployment)."""

    database_url: str
    clock: Clock
    announce: Callable[[str, tuple[str, ...]], None]

    def create_account(self, name: str, email: str,
                       actor: Actor | None = None) -> dict[str, Any]:
        """A new active merchant with a test and a live key pair, a webhook secret and a
        dashboard password. The answer is the only place the secrets and the password ever
        appear: only their hashes are stored. ``actor`` (None: the command line) is audited,
        right after the merchant's own transaction commits."""
        name, email = (name or "").strip(), (email or "").strip()
        if not name or len(name) > 200:
            raise ValidationError("name must be 1 to 200 characters", param="name")
        if not is_email(email):
            raise ValidationError("email must be an email address", param="email")
        test, live = new_key_pair("test"), new_key_pair("live")
        password, webhook_secret = secrets.token_urlsafe(12), new_webhook_secret()
        with connect(self.database_url, autocommit=True) as conn:
            taken = conn.execute(MERCHANT_BY_EMAIL, (email,)).fetchone()
        if taken:
            raise DuplicateEmail(email)
        try:
            merchant_id = create_merchant(
                self.database_url, name=name, email=email, api_key=test[0], api_secret=test[1],
                now=self.clock.now(), webhook_secret=webhook_secret, live_key=live,
                password_hash=hash_password(password))
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateEmail(email) from exc  # created concurrently
        with connect(self.database_url, autocommit=True) as conn:
            append(conn, actor or command_line(), "merchant.create", f"merchant:{merchant_id}",
                   {"name": name, "email": email}, self.clock.now())
        # A key just tried and remembered as unknown in some process works at once.
        self.announce(merchant_id, (test[0], live[0]))
        return {"id": merchant_id, "name": name, "email": email, "status": "active",
                "keys": {"test": {"api_key": test[0], "api_secret": test[1]},
                         "live": {"api_key": live[0], "api_secret": live[1]}},
                "webhook_secret": webhook_secret, "dashboard_password": password}

    def list_accounts(self) -> list[dict[str, Any]]:
        """Every merchant, oldest first: ``{id, name, email, status, created_at, api_keys:
        {mode: api_key}}`` (no secrets)."""
        with connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(_LIST).fetchall()
            keys = conn.execute("SELECT merchant_id, mode, api_key FROM merchant_keys").fetchall()
        by_merchant: dict[str, dict[str, str]] = {}
        for k in keys:
            by_merchant.setdefault(str(k["merchant_id"]), {})[k["mode"]] = k["api_key"]
        return [_account(r, by_merchant.get(str(r["id"]), {})) for r in rows]

    def get_account(self, merchant_id: str) -> dict[str, Any]:
        """One merchant as ``list_accounts`` shows it; ``NotFound`` if there is none."""
        mid = _merchant_id(merchant_id)
        with connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(_ONE, (mid,)).fetchone()
            if row is None:
                raise NotFound("Merchant")
            keys = {k["mode"]: k["api_key"] for k in conn.execute(_KEYS, (mid,)).fetchall()}
        return _account(row, keys)

    def suspend(self, merchant_id: str, actor: Actor | None = None) -> dict[str, Any]:
        """Refuse the merchant's API calls (403 ``ACCOUNT_SUSPENDED``) and new checkout
        payments, and end its dashboard sessions; work already accepted completes.
        Idempotent. Audited (``actor``; None: the command line) in the same transaction."""
        return self._set_status(merchant_id, "suspended", actor or command_line())

    def reinstate(self, merchant_id: str, actor: Actor | None = None) -> dict[str, Any]:
        """Undo ``suspend``: the same keys work again. Idempotent; audited as ``suspend``."""
        return self._set_status(merchant_id, "active", actor or command_line())

    def _set_status(self, merchant_id: str, status: str, actor: Actor) -> dict[str, Any]:
        mid = _merchant_id(merchant_id)
        now = self.clock.now()
        with connect(self.database_url, autocommit=True) as conn, conn.transaction():
            row = conn.execute("SELECT status FROM merchants WHERE id = %s FOR UPDATE",
                               (mid,)).fetchone()
            if row is None:
                raise NotFound("Merchant")
            conn.execute("UPDATE merchants SET status = %s, updated_at = %s WHERE id = %s",
                         (status, now, mid))
            if status == "suspended":
                end_sessions(conn, mid)
            append(conn, actor, "merchant.suspend" if status == "suspended"
                   else "merchant.reinstate", f"merchant:{mid}",
                   {"status_before": row["status"]}, now)
        self.announce(mid, ())
        return self.get_account(mid)

    def roll_key(self, merchant_id: str, mode: str,
                 expires_in_hours: int = 24) -> dict[str, Any]:
        """A new secret for the merchant's key of ``mode``: it works at once; the old one
        keeps working until ``previous_expires_at`` (now + ``expires_in_hours``; 0: it stops
        at once). The api_key stays. A merchant with no key of that mode yet (one from before
        modes existed has no live key) gets one, with no previous secret.
        Answers ``{api_key, api_secret, previous_expires_at}``."""
        if mode not in MODES:
            raise ValidationError("mode must be one of test, live", param="mode")
        if (isinstance(expires_in_hours, bool) or not isinstance(expires_in_hours, int)
                or not 0 <= expires_in_hours <= MAX_ROLL_EXPIRY_HOURS):
            raise ValidationError(
                f"expires_in_hours must be an integer from 0 to {MAX_ROLL_EXPIRY_HOURS}",
                param="expires_in_hours")
        mid = _merchant_id(merchant_id)
        now = self.clock.now()
        api_key, secret = new_key_pair(mode)
        expires = now + timedelta(hours=expires_in_hours)
        with connect(self.database_url, autocommit=True) as conn, conn.transaction():
            row = conn.execute(
                "UPDATE merchant_keys SET previous_secret_hash = secret_hash,"
                " previous_expires_at = %s, secret_hash = %s, rolled_at = %s"
                " WHERE merchant_id = %s AND mode = %s RETURNING api_key",
                (expires, hash_api_secret(secret), now, mid, mode)).fetchone()
            if row is None:
                if conn.execute("SELECT 1 FROM merchants WHERE id = %s", (mid,)).fetchone() \
                        is None:
                    raise NotFound("Merchant")
                conn.execute("INSERT INTO merchant_keys (api_key, merchant_id, mode,"
                             " secret_hash, created_at) VALUES (%s, %s, %s, %s, %s)",
                             (api_key, mid, mode, hash_api_secret(secret), now))
                expires_at = None
            else:
                api_key, expires_at = row["api_key"], expires
            append(conn, merchant_actor(mid), "merchant.key_roll", f"merchant:{mid}",
                   {"mode": mode, "api_key": api_key, "previous_expires_at": iso(expires_at)},
                   now)
        self.announce(mid, (api_key,))
        return {"api_key": api_key, "api_secret": secret, "previous_expires_at": iso(expires_at)}


class AsyncAccounts:
    """``Accounts`` for code on an event loop: the same methods, run in a worker thread so the
    loop never waits on their connection. For the fronts (through ``engine/bridge.py``)."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def create_account(self, name: str, email: str,
                             actor: Actor | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._accounts.create_account, name, email, actor)

    async def list_accounts(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._accounts.list_accounts)

    async def get_account(self, merchant_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(self._accounts.get_account, merchant_id)

    async def suspend(self, merchant_id: str, actor: Actor | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._accounts.suspend, merchant_id, actor)

    async def reinstate(self, merchant_id: str, actor: Actor | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._accounts.reinstate, merchant_id, actor)

    async def roll_key(self, merchant_id: str, mode: str,
                       expires_in_hours: int = 24) -> dict[str, Any]:
        return await asyncio.to_thread(self._accounts.roll_key, merchant_id, mode,
                                       expires_in_hours)


def _merchant_id(text: str) -> str:
    mid = uuid_text(text)
    if mid is None:
        raise NotFound("Merchant")
    return mid


def _account(row: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    return {"id": str(row["id"]), "name": row["name"], "email": row["email"],
            "status": row["status"], "created_at": iso(row["created_at"]), "api_keys": keys}
