"""Merchants: the demo (seeded test) merchant, API-key authentication with an in-memory cache."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import TEST_MERCHANT_ID
from .db import connect
from .secrets_hash import check_api_secret, check_password, hash_api_secret, hash_password
from .sessions import end_sessions

# The reads and the settings update of the merchants table, for every module that needs them
# (the fronts' queries, the dashboard's, the webhook bridge); creation and passwords are below.
MERCHANT_BY_ID = "SELECT * FROM merchants WHERE id = %s"
MERCHANT_BY_KEY = "SELECT * FROM merchants WHERE api_key = %s"
MERCHANT_BY_EMAIL = "SELECT * FROM merchants WHERE lower(email) = lower(%s)"
#: The settings a merchant changes itself; ``{column}`` is one of ``SETTINGS``.
SETTINGS = ("webhook_url", "webhook_secret", "checkout_origins")
UPDATE_SETTING = ("UPDATE merchants SET {column} = %s, version = version + 1, updated_at = %s"
                  " WHERE id = %s RETURNING *")

TEST_MERCHANT = {
    "id": TEST_MERCHANT_ID,
    "name": "Test Merchant",
    "email": "test@example.com",
    "api_key": "key_test_abc123",
    "api_secret": "secret_test_xyz789",
    "webhook_secret": "whsec_test_abc123",
}


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    email: str
    api_key: str
    webhook_url: str | None
    webhook_secret: str


def seed_test_merchant(database_url: str, password: str, now: datetime) -> None:
    """Create the test merchant if absent; keep its password in step with the setting."""
    m = TEST_MERCHANT
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO merchants (id, name, email, api_key, api_secret_hash, password_hash,"
            " webhook_url, webhook_secret, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, NULL, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (m["id"], m["name"], m["email"], m["api_key"], hash_api_secret(m["api_secret"]),
             hash_password(password), m["webhook_secret"], now, now),
        )
        row = conn.execute("SELECT password_hash FROM merchants WHERE id = %s",
                           (m["id"],)).fetchone()
        if row is not None and not check_password(password, row["password_hash"]):
            with conn.transaction():
                conn.execute("UPDATE merchants SET password_hash = %s WHERE id = %s",
                             (hash_password(password), m["id"]))
                end_sessions(conn, m["id"])


def is_demo_merchant(row: dict[str, Any]) -> bool:
    """Whether a merchants row is the demo merchant's (whose credentials are public)."""
    return str(row["id"]) == TEST_MERCHANT["id"]


def merchant_from_row(row: dict[str, Any]) -> Merchant:
    return Merchant(id=str(row["id"]), name=row["name"], email=row["email"],
                    api_key=row["api_key"], webhook_url=row["webhook_url"],
                    webhook_secret=row["webhook_secret"])


class AuthCache:
    """api_key -> (secret hash, merchant), kept for ``ttl`` seconds, and api_keys that name no
    merchant, kept for ``unknown_ttl`` seconds (at most ``max_unknown`` of them, the oldest
    dropped first); thread- and loop-safe.

    The secret hash is checked in memory in constant time, so an authenticated request costs no
    round trip to PostgreSQL once its merchant is cached. An unknown key costs one query, then
    none while it is remembered, and its check does the same hashing and comparison as a wrong
    secret for a known key: neither the time of an answer nor a flood of made-up keys tells or
    costs more than a known key with a wrong secret. ``unknown_ttl`` stays short because a
    merchant created with that key meanwhile is refused until it runs out. ``invalidate`` drops
    a merchant at once when its profile changes in this process; other processes see the
    change within ``ttl``.
    """

    def __init__(self, ttl: float = 30.0, unknown_ttl: float = 2.0, max_unknown: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._unknown_ttl = unknown_ttl
        self._max_unknown = max_unknown
        self._clock = clock
        self._entries: dict[str, tuple[float, str, Merchant]] = {}
        # api_key -> when to forget it; insertion order is age order (a key seen again moves
        # to the end), so the oldest is the first.
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, api_key: str, secret: str) -> Merchant | None | bool:
        """The merchant, ``None`` if the credentials are wrong (or the key names no merchant),
        ``False`` if not cached."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(api_key)
            unknown_until = self._unknown.get(api_key)
        if entry is not None and entry[0] >= now:
            return entry[2] if check_api_secret(secret, entry[1]) else None
        if unknown_until is not None and unknown_until >= now:
            check_api_secret(secret, _NO_SECRET_HASH)  # the work a wrong secret costs
            return None
        return False

    def put(self, api_key: str, secret_hash: str, merchant: Merchant) -> None:
        with self._lock:
            self._unknown.pop(api_key, None)
            self._entries[api_key] = (self._clock() + self._ttl, secret_hash, merchant)

    def put_unknown(self, api_key: str) -> None:
        """Remember that ``api_key`` named no merchant just now."""
        with self._lock:
            self._unknown.pop(api_key, None)
            self._unknown[api_key] = self._clock() + self._unknown_ttl
            while len(self._unknown) > self._max_unknown:
                self._unknown.popitem(last=False)

    def invalidate(self, merchant_id: str) -> None:
        with self._lock:
            for key in [k for k, v in self._entries.items() if v[2].id == merchant_id]:
                del self._entries[key]


# A hash no secret has: what an unknown key's secret is compared with.
_NO_SECRET_HASH = hash_api_secret(os.urandom(32).hex())


def create_merchant(database_url: str, *, name: str, email: str, api_key: str, api_secret: str,
                    now: datetime, webhook_url: str | None = None,
                    webhook_secret: str | None = None, merchant_id: str | None = None) -> str:
    """Insert a merchant (tests, simulations and operator scripts); return its id. The secret
    defaults to a fresh ``whsec_`` + base64 one."""
    import uuid

    from .secrets_hash import new_webhook_secret

    mid = merchant_id or str(uuid.uuid4())
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO merchants (id, name, email, api_key, api_secret_hash, password_hash,"
            " webhook_url, webhook_secret, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, NULL, %s, %s, %s, %s)",
            (mid, name, email, api_key, hash_api_secret(api_secret), webhook_url,
             webhook_secret or new_webhook_secret(), now, now))
    return mid
