"""Idempotency keys, Stripe's way: claim the key before the work, store the response after it.

A key is scoped by (merchant, scope, key): scope ``""`` for the merchant's own requests,
``public:<order id>`` for the checkout's, ``razorpay`` for the Razorpay dialect's. A key never
seen is written by the shard, completed with its answer, in the statement that creates the
object (``http/idempotency.py``, ``create_once``); this module handles every other case.

``IdempotencyStore`` runs on the event loop (async pool, autocommit). A request whose key
exists already *claims* its (merchant, scope, key) with one ``INSERT ... ON CONFLICT``
statement. Exactly one of any number of concurrent claimers, in any number of processes, gets
the row; it is ``in_progress`` with a lease (``locked_until``) and carries the id of the object
the request will create, chosen now.
Everyone else reads the row and either replays the stored response, is told the key was reused
with another request (different fingerprint), or finds it in use and waits (bounded) for it.

The pre-chosen id is the recovery point. A request that died mid-way leaves its row in
progress; once its lease has expired, a retry with the same request takes the row over *with the
same id*, and the shard's create with a known id returns the object if the dead attempt had
already created it. So a crash can delay a key, never make it create a second object.

Claims, stored answers and releases are committed without waiting for the WAL flush (the
store's pool runs with ``synchronous_commit = off``): WAL is flushed in order, so the shard's
durable commit of the object flushes the claim made before it; a stored answer lost with a
PostgreSQL crash leaves the key in progress, and the retry after its lease finds the object by
its pre-chosen id; a lost release only makes the key wait out its lease.

Only successful responses are stored (``complete``); a refusal releases the key (``release``)
so the request may be corrected and retried. Expired keys are treated as new by ``claim`` and
deleted by ``IdempotencyJanitor``, a worker thread: no cron outside the engine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .clock import Clock
from .db import PooledConnection, ReadPool, connect, run_pooled
from .ids import new_id

log = logging.getLogger(__name__)

PREFIXES = {"order": "order_", "payment": "pay_", "refund": "rfnd_"}
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claimed:
    """This request owns the key: create the object with ``resource_id``, then ``complete``.

    ``recovered``: an earlier attempt held the key and abandoned it (its lease expired), so the
    object may exist already."""

    merchant_id: str
    scope: str
    key: str
    resource_id: str
    token: str
    recovered: bool

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.merchant_id, self.scope, self.key)


@dataclass(frozen=True)
class Stored:
    """A stored response: send ``body`` byte for byte with ``status``."""

    status: int
    body: bytes
    replayed: bool


@dataclass(frozen=True)
class KeyReused:
    """The key belongs to a different request (another method, path or body)."""


@dataclass(frozen=True)
class KeyInUse:
    """Another request holds the key and did not finish within the wait."""

    retry_after_s: int = 1


Claim = Claimed | Stored | KeyReused | KeyInUse

_CLAIM = """
INSERT INTO idempotency_keys AS k (merchant_id, scope, key, fingerprint, status, resource_id,
                                   lock_token, locked_until, created_at, expires_at)
VALUES (%(merchant_id)s, %(scope)s, %(key)s, %(fingerprint)s, 'in_progress', %(resource_id)s,
        %(token)s, %(locked_until)s, %(now)s, %(expires_at)s)
ON CONFLICT (merchant_id, scope, key) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint,
    status = 'in_progress',
    response_code = NULL,
    response_body = NULL,
    lock_token = EXCLUDED.lock_token,
    locked_until = EXCLUDED.locked_until,
    -- An expired key starts again from scratch; an abandoned lease keeps its object id.
    resource_id = CASE WHEN k.expires_at <= %(now)s THEN EXCLUDED.resource_id
                       ELSE k.resource_id END,
    created_at = CASE WHEN k.expires_at <= %(now)s THEN EXCLUDED.created_at
                      ELSE k.created_at END,
    expires_at = CASE WHEN k.expires_at <= %(now)s THEN EXCLUDED.expires_at
                      ELSE k.expires_at END
WHERE k.expires_at <= %(now)s
   OR (k.status = 'in_progress' AND k.locked_until <= %(now)s
       AND k.fingerprint = EXCLUDED.fingerprint)
   -- The same claim again (run_pooled's retry after a connection died under the first run,
   -- which may have committed): it is still ours.
   OR (k.status = 'in_progress' AND k.lock_token = EXCLUDED.lock_token)
RETURNING k.resource_id
"""

_READ = ("SELECT fingerprint, status, resource_id, response_code, response_body"
         " FROM idempotency_keys WHERE merchant_id = %s AND scope = %s AND key = %s")

_COMPLETE = ("UPDATE idempotency_keys SET status = 'completed', response_code = %s,"
             " response_body = %s, lock_token = NULL, locked_until = NULL"
             " WHERE merchant_id = %s AND scope = %s AND key = %s"
             " AND status = 'in_progress' AND resource_id = %s")

_RELEASE = ("DELETE FROM idempotency_keys WHERE merchant_id = %s AND scope = %s AND key = %s"
            " AND status = 'in_progress' AND lock_token = %s")


class IdempotencyStore:
    """Claim, complete and release keys. Every method is a coroutine on the gateway's loop.

    ``lease``: how long a claim may run before a retry may take it over (a live but slower
    holder is harmless then: both create the same object id). ``wait``: how long a request
    that finds its key in progress waits for it before answering 409.
    """

    def __init__(self, pool: ReadPool, clock: Clock, *, card_key: bytes,
                 ttl: timedelta = timedelta(hours=24), lease: timedelta = timedelta(seconds=10),
                 wait: float = 2.0) -> None:
        self._pool = pool
        # The key of the card part of a request's fingerprint (``gateway_key``).
        self.card_key = card_key
        self._clock = clock
        self.ttl = ttl
        self.lease = lease
        self.wait = wait
        # Requests of this process waiting on a key: woken at once when it completes here;
        # waiters on a key held by another process find out by polling.
        self._waiters: dict[tuple[str, str, str], set[asyncio.Future[None]]] = {}

    async def claim(self, merchant_id: str, key: str, fingerprint: str, kind: str,
                    scope: str = "") -> Claim:
        """Own the key, or learn what to answer instead. ``kind`` names the object to create
        (order, payment, refund); ``scope`` is the key's namespace within the merchant ("" for
        the merchant's own requests). Waits up to ``self.wait`` seconds while another request
        holds the key; raises psycopg errors if PostgreSQL fails."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        pause = 0.01
        while True:
            outcome = await self._try_claim(merchant_id, scope, key, fingerprint, kind)
            if outcome is not None and not isinstance(outcome, KeyInUse):
                return outcome
            left = deadline - loop.time()
            if left <= 0:
                return KeyInUse()
            if outcome is not None:  # None: the row vanished under us; claim again at once
                await self._until_changed((merchant_id, scope, key), min(pause, left))
                pause = min(pause * 2, 0.1)

    async def complete(self, claim: Claimed, status: int, body: bytes) -> Stored:
        """Store the response of a successful request and return what to send: this response,
        or the one stored first by another holder of the same object (then ``replayed``)."""
        params = claim.ident

        async def store(conn: PooledConnection) -> Stored:
            cur = await conn.execute(_COMPLETE, (status, body, *params, claim.resource_id))
            if cur.rowcount == 1:
                return Stored(status, body, replayed=False)
            row = await (await conn.execute(_READ, params)).fetchone()
            if row and row["status"] == "completed" and row["resource_id"] == claim.resource_id:
                # Stored first by another holder (or by this very statement, when a dead
                # connection hid its commit and run_pooled repeated it): the same object's
                # answer either way.
                return Stored(row["response_code"], bytes(row["response_body"]), True)
            log.warning("idempotency key of %s changed hands before it completed",
                        claim.resource_id)
            return Stored(status, body, replayed=False)
        stored = await run_pooled(self._pool, store)
        self._notify(claim.ident)
        return stored

    async def release(self, claim: Claimed) -> None:
        """Forget a claim whose request was refused (4xx): nothing was created, and the same
        key may be retried with a corrected request. A no-op if the lease changed hands."""
        async def release(conn: PooledConnection) -> None:
            await conn.execute(_RELEASE, (*claim.ident, claim.token))
        await run_pooled(self._pool, release)
        self._notify(claim.ident)

    # -- internals -----------------------------------------------------------------------

    async def _try_claim(self, merchant_id: str, scope: str, key: str, fingerprint: str,
                         kind: str) -> Claim | None:
        now = self._clock.now()
        proposed = new_id(PREFIXES[kind])
        token = uuid.uuid4().hex
        claim = {"merchant_id": merchant_id, "scope": scope, "key": key,
                 "fingerprint": fingerprint, "resource_id": proposed, "token": token,
                 "locked_until": now + self.lease, "now": now, "expires_at": now + self.ttl}

        async def try_claim(conn: PooledConnection) -> Claimed | dict[str, Any] | None:
            won = await (await conn.execute(_CLAIM, claim)).fetchone()
            if won is not None:
                return Claimed(merchant_id, scope, key, won["resource_id"], token,
                               recovered=won["resource_id"] != proposed)
            return await (await conn.execute(_READ, (merchant_id, scope, key))).fetchone()
        row = await run_pooled(self._pool, try_claim)
        if isinstance(row, Claimed):
            return row
        if row is None:
            return None
        if row["fingerprint"] != fingerprint:
            return KeyReused()
        if row["status"] == "completed":
            return Stored(row["response_code"], bytes(row["response_body"]), replayed=True)
        return KeyInUse()

    async def _until_changed(self, ident: tuple[str, str, str], timeout: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(ident, set())
        waiters.add(future)
        try:
            await asyncio.wait({future}, timeout=timeout)
        finally:
            waiters.discard(future)
            if not waiters and self._waiters.get(ident) is waiters:
                del self._waiters[ident]

    def _notify(self, ident: tuple[str, str, str]) -> None:
        for future in self._waiters.pop(ident, ()):
            if not future.done():
                future.set_result(None)


def gateway_key(database_url: str, name: str) -> bytes:
    """The gateway's secret ``name`` (32 random bytes), made by whichever process asks first
    and shared by every process through PostgreSQL. Blocking: call at start-up."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO gateway_keys (name, secret) VALUES (%s, %s)"
                      " ON CONFLICT (name) DO NOTHING", (name, os.urandom(32)))
        row = conn.execute("SELECT secret FROM gateway_keys WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return bytes(row["secret"])
