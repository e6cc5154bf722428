"""Merchants: the demo (seeded test) merchant, API-key authentication with an in-memory cache.

Keys live in ``merchant_keys`` (one per merchant and mode, secrets hashed); a merchant row read
for a profile carries its test key as ``api_key``. Creating, listing, suspending and rolling
keys are ``engine/accounts.py``'s."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..config import TEST_MERCHANT_ID
from .db import connect
from .ids import new_id
from .secrets_hash import (
    check_api_secret,
    check_password,
    hash_api_secret,
    hash_password,
    new_webhook_secret,
)
from .sessions import end_sessions

# The reads and the settings update of the merchants table, for every module that needs them
# (the fronts' queries, the dashboard's, the webhook bridge); creation and passwords are below.
#: A merchant row with its test key's ``api_key`` and ``api_secret_hash`` beside it.
MERCHANT_ROW = ("SELECT m.*, k.api_key, k.secret_hash AS api_secret_hash FROM merchants m"
                " LEFT JOIN merchant_keys k ON k.merchant_id = m.id AND k.mode = 'test'")
MERCHANT_BY_ID = MERCHANT_ROW + " WHERE m.id = %s"
MERCHANT_BY_EMAIL = MERCHANT_ROW + " WHERE lower(m.email) = lower(%s)"
#: The merchant an API key belongs to, with the key's mode and secrets (current and previous).
MERCHANT_BY_KEY = ("SELECT m.*, k.api_key, k.mode, k.secret_hash, k.previous_secret_hash,"
                   " k.previous_expires_at FROM merchant_keys k"
                   " JOIN merchants m ON m.id = k.merchant_id WHERE k.api_key = %s")
#: The merchant's key of one mode (the dashboard's credentials panel).
KEY_OF_MODE = "SELECT * FROM merchant_keys WHERE merchant_id = %s AND mode = %s"
#: The settings a merchant changes itself; ``{column}`` is one of ``SETTINGS``.
SETTINGS = ("webhook_secret", "checkout_origins", "logo_url")
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
    """A merchant as one caller acts for it: ``api_key`` and ``livemode`` are those of the key
    the request authenticated with (the dashboard's: the mode its switch shows). Everything
    the caller creates carries ``livemode``, and it sees only objects of that mode."""

    id: str
    name: str
    email: str
    api_key: str
    webhook_secret: str
    livemode: bool = False
    status: str = "active"

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"

    def owns(self, obj: Any) -> bool:
        """Whether ``obj`` (an order, payment, refund or delivery row) is this merchant's and
        of this caller's mode: anything else is answered as if it did not exist."""
        merchant_id = getattr(obj, "merchant_id", None) if not isinstance(obj, dict) \
            else obj.get("merchant_id")
        livemode = getattr(obj, "livemode", None) if not isinstance(obj, dict) \
            else obj.get("livemode")
        return str(merchant_id) == self.id and bool(livemode) == self.livemode


@dataclass(frozen=True)
class KeySecrets:
    """A key's secret hashes: the current one, and the one a roll replaced while it lasts."""

    current: str
    previous: str | None = None
    previous_expires_at: datetime | None = None

    def check(self, secret: str, now: datetime) -> bool:
        """Constant-time check against the current hash and, until it expires, the previous;
        both are always computed, so the answer's time does not tell which matched."""
        ok = check_api_secret(secret, self.current)
        live_previous = (self.previous is not None and self.previous_expires_at is not None
                         and now < self.previous_expires_at)
        old = check_api_secret(secret, self.previous if self.previous else _NO_SECRET_HASH)
        return ok or (old and live_previous)


def seed_test_merchant(database_url: str, password: str, now: datetime) -> None:
    """Create the test merchant if absent; keep its password in step with the setting."""
    m = TEST_MERCHANT
    with connect(database_url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                "INSERT INTO merchants (id, name, email, password_hash,"
                " webhook_secret, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (m["id"], m["name"], m["email"], hash_password(password), m["webhook_secret"],
                 now, now),
            )
            conn.execute(INSERT_KEY + " ON CONFLICT DO NOTHING",
                         (m["api_key"], m["id"], "test", hash_api_secret(m["api_secret"]), now))
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


#: A merchant's default endpoint of one mode (the one URL of PUT /api/v1/merchant/webhook).
INSERT_DEFAULT_ENDPOINT = (
    "INSERT INTO webhook_endpoints (id, merchant_id, livemode, url, enabled_events, secret,"
    " is_default, created_at, updated_at) VALUES (%(id)s, %(merchant_id)s, %(livemode)s,"
    " %(url)s, ARRAY['*'], %(secret)s, true, %(now)s, %(now)s) RETURNING *")


def default_endpoint(merchant_id: str, livemode: bool, url: str, secret: str,
                     now: datetime) -> dict[str, Any]:
    """The parameters of ``INSERT_DEFAULT_ENDPOINT``."""
    return {"id": new_id("we_"), "merchant_id": merchant_id, "livemode": livemode, "url": url,
            "secret": secret, "now": now}


INSERT_KEY = ("INSERT INTO merchant_keys (api_key, merchant_id, mode, secret_hash, created_at)"
              " VALUES (%s, %s, %s, %s, %s)")


def merchant_from_row(row: dict[str, Any]) -> Merchant:
    """The merchant of a row read with ``MERCHANT_BY_KEY`` (the key's mode) or another merchant
    read (test mode, its test key)."""
    return Merchant(id=str(row["id"]), name=row["name"], email=row["email"],
                    api_key=row.get("api_key") or "",
                    webhook_secret=row["webhook_secret"], livemode=row.get("mode") == "live",
                    status=row.get("status") or "active")


def secrets_from_row(row: dict[str, Any]) -> KeySecrets:
    """The secrets of a ``MERCHANT_BY_KEY`` row."""
    return KeySecrets(row["secret_hash"], row["previous_secret_hash"],
                      row["previous_expires_at"])


class AuthCache:
    """api_key -> (its secrets, merchant), kept for ``ttl`` seconds, and api_keys that name no
    merchant, kept for ``unknown_ttl`` seconds (at most ``max_unknown`` of them, the oldest
    dropped first); thread- and loop-safe.

    The secret hashes are checked in memory in constant time, so an authenticated request costs
    no round trip to PostgreSQL once its merchant is cached. An unknown key costs one query,
    then none while it is remembered, and its check does the same hashing and comparison as a
    wrong secret for a known key: neither the time of an answer nor a flood of made-up keys
    tells or costs more than a known key with a wrong secret. ``unknown_ttl`` stays short
    because a merchant created with that key meanwhile is refused until it runs out.

    Changes made anywhere (a roll, a suspension, a reinstatement, a new merchant) reach every
    process through ``MerchantChanges`` (``engine/merchant_changes.py``), which calls
    ``invalidate``. While that subscription is down (``listening(False)``) nothing would tell
    this cache, so entries live ``fallback_ttl`` seconds at most. A previous secret's expiry
    needs no message: it is compared with ``now()`` (wall time) on every check.
    """

    def __init__(self, ttl: float = 30.0, unknown_ttl: float = 2.0, max_unknown: int = 10_000,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] | None = None, fallback_ttl: float = 2.0) -> None:
        self._ttl = ttl
        self._unknown_ttl = unknown_ttl
        self._max_unknown = max_unknown
        self._clock = clock
        self._now = now or (lambda: datetime.now(UTC))
        self._fallback_ttl = fallback_ttl
        # Until a subscription says it listens, assume nobody tells this cache of changes.
        self._listening = False
        self._entries: dict[str, tuple[float, KeySecrets, Merchant]] = {}
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
            return entry[2] if entry[1].check(secret, self._now()) else None
        if unknown_until is not None and unknown_until >= now:
            check_api_secret(secret, _NO_SECRET_HASH)  # the work a wrong secret costs
            return None
        return False

    def put(self, api_key: str, secrets: KeySecrets, merchant: Merchant) -> None:
        ttl = self._ttl if self._listening else min(self._ttl, self._fallback_ttl)
        with self._lock:
            self._unknown.pop(api_key, None)
            self._entries[api_key] = (self._clock() + ttl, secrets, merchant)

    def put_unknown(self, api_key: str) -> None:
        """Remember that ``api_key`` named no merchant just now."""
        with self._lock:
            self._unknown.pop(api_key, None)
            self._unknown[api_key] = self._clock() + self._unknown_ttl
            while len(self._unknown) > self._max_unknown:
                self._unknown.popitem(last=False)

    def invalidate(self, merchant_id: str, api_keys: tuple[str, ...] = ()) -> None:
        """Forget the merchant's keys, and that ``api_keys`` were unknown (a new merchant's)."""
        with self._lock:
            for key in [k for k, v in self._entries.items() if v[2].id == merchant_id]:
                del self._entries[key]
            for key in api_keys:
                self._unknown.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._unknown.clear()

    def listening(self, on: bool) -> None:
        """Whether changes are being received (``MerchantChanges``). Either way the cache is
        emptied: messages may have been missed while it was not listening."""
        self._listening = on
        self.clear()


# A hash no secret has: what an unknown key's secret is compared with.
_NO_SECRET_HASH = hash_api_secret(os.urandom(32).hex())


def create_merchant(database_url: str, *, name: str, email: str, api_key: str, api_secret: str,
                    now: datetime, webhook_url: str | None = None,
                    webhook_secret: str | None = None, merchant_id: str | None = None,
                    live_key: tuple[str, str] | None = None,
                    password_hash: str | None = None) -> str:
    """Insert a merchant with its test key ``api_key``/``api_secret`` and, given
    ``live_key`` (key, secret), a live key (tests, simulations, ``accounts.create_account``);
    return its id. The webhook secret defaults to a fresh ``whsec_`` + base64 one; a
    ``webhook_url`` becomes the test mode's default endpoint. A duplicate email raises
    psycopg's ``UniqueViolation``."""
    mid = merchant_id or str(uuid.uuid4())
    webhook_secret = webhook_secret or new_webhook_secret()
    with connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO merchants (id, name, email, password_hash,"
            " webhook_secret, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (mid, name, email, password_hash, webhook_secret, now, now))
        if webhook_url is not None:
            conn.execute(INSERT_DEFAULT_ENDPOINT,
                         default_endpoint(mid, False, webhook_url, webhook_secret, now))
        conn.execute(INSERT_KEY, (api_key, mid, "test", hash_api_secret(api_secret), now))
        if live_key is not None:
            conn.execute(INSERT_KEY, (live_key[0], mid, "live", hash_api_secret(live_key[1]),
                                      now))
    return mid
