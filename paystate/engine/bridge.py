"""The engine's face for HTTP fronts: coroutines that never block the event loop.

Writes go to the owning shard actor (``ShardRouter.submit_async`` returns an asyncio future
that the actor completes from its thread with ``call_soon_threadsafe``). Reads go to
PostgreSQL through the async pool. Creates with an idempotency key run the engine's whole
protocol (``create_once``). Nothing here imports a web framework.

A front imports from the engine this module (and the webhook, dashboard and admin bridges)
only: the types it takes and returns are re-exported here (``__all__``). Longer than the
project's other modules on purpose: it is the whole of what the API fronts may ask of the
engine, read in one place; each method is a few lines that hand over to the module that does
the work (shards, queries, accounts, keyed creates).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from ..encoding import iso
from ..machines.instruments import TEST_SUCCESS
from ..machines.models import Order, Payment, Refund
from ..machines.payment import PAYMENT
from ..machines.refund import REFUND
from . import commands as c
from .accounts import AsyncAccounts, DuplicateEmail
from .clock import Clock
from .commands import Answered, Keyed
from .errors import (
    AccountSuspended,
    Conflict,
    KeyInUseError,
    KeyReusedError,
    NotFound,
    Unavailable,
    dependency_down,
)
from .heartbeat import STALE_AFTER_S
from .history import object_as_of
from .idempotency import MAX_KEY_LENGTH, IdempotencyStore
from .ids import new_id
from .keyed_creates import HEADER, KeyedRequest, Owner, Reply, create_once, mode_namespace
from .merchants import (
    TEST_MERCHANT,
    AuthCache,
    Merchant,
    is_demo_merchant,
    merchant_from_row,
    secrets_from_row,
)
from .metrics import Metrics
from .queries import Queries
from .rate_limits import LocalLimits, SharedLimits, rate
from .router import ShardRouter
from .streams import StreamNames

__all__ = [
    "HEADER",
    "MAX_KEY_LENGTH",
    "TEST_MERCHANT",
    "AccountSuspended",
    "Answered",
    "AsyncAccounts",
    "Conflict",
    "DuplicateEmail",
    "Engine",
    "KeyInUseError",
    "KeyReusedError",
    "Keyed",
    "KeyedRequest",
    "LocalLimits",
    "Merchant",
    "NewPayment",
    "NotFound",
    "Owner",
    "Reply",
    "dependency_down",
    "iso",
    "mode_namespace",
    "rate",
]


@dataclass(frozen=True)
class NewPayment:
    method: str
    vpa: str | None = None
    card_network: str | None = None
    card_last4: str | None = None
    # The outcome the instrument decides in test mode (``instruments.instrument_outcome``).
    test_outcome: str = TEST_SUCCESS


class Engine:
    def __init__(self, router: ShardRouter, queries: Queries, aredis: aioredis.Redis,
                 streams: StreamNames, clock: Clock, auth_cache: AuthCache,
                 idempotency: IdempotencyStore | None = None,
                 metrics: Metrics | None = None,
                 shared_limits: SharedLimits | None = None,
                 demo_merchant: bool = False,
                 accounts: AsyncAccounts | None = None) -> None:
        self._router = router
        self._queries = queries
        self._aredis = aredis
        self.streams = streams
        self.clock = clock
        self.auth_cache = auth_cache
        # Idempotency keys of the creating POSTs (engine/idempotency.py); None: not offered.
        self.idempotency = idempotency
        self.metrics = metrics or Metrics()
        # Rate limits every process shares (the public endpoints'); None: not limited.
        self.shared_limits = shared_limits
        # The demo merchant asked for (TEST_MODE or SEED_TEST_MERCHANT)? If not, a row of it
        # left from before is no account: its public credentials open nothing.
        self.demo_merchant = demo_merchant
        # Merchant accounts (engine/accounts.py): the key roll here, and for an operator
        # front, creating, listing, suspending and reinstating merchants.
        self.accounts = accounts
        #: Coroutines that set gauges just before /metrics renders (the operator console's
        #: figures: ``OpsQueries.export``), added by bootstrap.
        self.before_scrape: list[Callable[[Metrics], Awaitable[None]]] = []

    async def fire(self, command: c.Command) -> Any:
        """Send a command to its shard and await the decision without blocking the loop."""
        return await self._router.submit_async(command)

    async def create_once(self, *, key: str | None, owner: Owner, request: KeyedRequest,
                          kind: str, create: Any, render: Any, status: int,
                          is_refusal: Any) -> Reply:
        """``keyed_creates.create_once`` with this engine's key store."""
        return await create_once(self.idempotency, self.created_object, key, owner, request,
                                 kind, create, render, status, is_refusal)

    def today(self) -> date:
        return self.clock.now().date()

    # -- merchants ---------------------------------------------------------------------

    async def authenticate(self, api_key: str, api_secret: str) -> Merchant | None:
        """The merchant these credentials belong to, in the key's mode (``livemode``), or
        None. A suspended merchant is returned (``Merchant.suspended``): the front answers
        403, not 401, since the credentials are right. Runs on the loop; a key seen lately,
        known or not, costs no query (``AuthCache``)."""
        if "\x00" in api_key:
            # PostgreSQL text cannot hold NUL, so no merchant has such a key; asking would
            # fail the query (a 500) instead of refusing the credentials.
            return None
        cached = self.auth_cache.get(api_key, api_secret)
        if cached is not False:
            return cached  # type: ignore[return-value]
        row = await self._queries.merchant_by_key(api_key)
        if row is None or not self.demo_merchant and is_demo_merchant(row):
            self.auth_cache.put_unknown(api_key)
            return None
        merchant = merchant_from_row(row)
        self.auth_cache.put(api_key, secrets_from_row(row), merchant)
        got = self.auth_cache.get(api_key, api_secret)
        return got if isinstance(got, Merchant) else None

    async def roll_key(self, merchant: Merchant, mode: str,
                       expires_in_hours: int = 24) -> dict[str, Any]:
        """A new secret for the merchant's key of ``mode`` (``Accounts.roll_key``): answers
        ``{api_key, api_secret, previous_expires_at}``; every process sees it within 2 s."""
        if self.accounts is None:
            raise Unavailable("merchant accounts are not configured in this process")
        return await self.accounts.roll_key(merchant.id, mode, expires_in_hours)

    async def test_merchant(self) -> dict[str, Any] | None:
        """The demo merchant's public face (``GET /api/v1/test/merchant``), or None where it is
        not seeded: not asked for (``demo_merchant`` off), or ``paystate seed`` never ran."""
        if not self.demo_merchant:
            return None
        row = await self._queries.merchant_by_id(TEST_MERCHANT["id"])
        if row is None:
            return None
        return {"id": str(row["id"]), "email": row["email"], "api_key": row["api_key"]}

    async def checkout_origins(self, order_id: str) -> list[str] | None:
        """The web origins that may embed the checkout of ``order_id`` (its merchant's
        list, set with ``WebhookBridge.set_checkout_origins``); None if there is no such
        order. Read fresh each time: a merchant's change applies to the next page."""
        return await self._queries.checkout_origins(order_id)

    async def merchant_brand(self, merchant_id: str) -> dict[str, Any]:
        """The display name and logo (``{name, logo_url}``) the checkout shows for a merchant's
        orders; read fresh, so a changed logo shows on the next page."""
        row = await self._queries.merchant_brand(merchant_id)
        if row is None:
            raise NotFound("Merchant")
        return {"name": row["name"], "logo_url": row["logo_url"]}

    # -- orders ------------------------------------------------------------------------

    async def create_order(self, merchant: Merchant, amount: int, currency: str,
                           receipt: str | None, notes: dict[str, Any],
                           keyed: c.Keyed | None = None) -> Order | c.Answered:
        """Create an order. With ``keyed`` (an idempotency key's choice), the order gets its
        id; if it ``may_exist``, an existing order is returned and nothing is created; with an
        ``answer``, the key is written with the order and ``Answered`` returned (the same for
        payments and refunds)."""
        keyed = keyed or c.Keyed(new_id("order_"))
        return await self.fire(c.CreateOrder(order_id=keyed.object_id, merchant_id=merchant.id,
                                             amount=amount, currency=currency, receipt=receipt,
                                             notes=notes, may_exist=keyed.may_exist,
                                             answer=keyed.answer, livemode=merchant.livemode))

    async def order(self, merchant: Merchant | None, order_id: str) -> Order:
        order = await self._queries.order(order_id)
        if order is None or (merchant is not None and not merchant.owns(order)):
            raise NotFound("Order")
        return order

    # -- payments ----------------------------------------------------------------------

    async def create_payment(self, order: Order | str, new: NewPayment,
                             keyed: c.Keyed | None = None, max_attempts: int | None = None,
                             merchant: Merchant | None = None,
                             amount: int | None = None) -> Payment | c.Answered:
        """A payment on ``order`` (the object, or its id: the owning shard loads it and answers
        ``NotFound`` if it is missing or, with ``merchant``, someone else's - no read here).
        ``max_attempts``: refuse (``AttemptsExhausted``) once the order has had that many
        payments; the public checkout's cap, decided by the shard that owns the order.
        ``amount``: what the caller stated, checked against the order's by the shard."""
        if merchant is None and await self._queries.suspended_order(
                order if isinstance(order, str) else order.id):
            # The public checkout of a suspended merchant takes no payment (its API calls
            # were refused at authentication).
            raise AccountSuspended()
        if isinstance(order, str):
            order_id, merchant_id = order, (merchant.id if merchant else None)
            livemode = merchant.livemode if merchant else None
        else:
            order_id, merchant_id, livemode = order.id, order.merchant_id, order.livemode
        keyed = keyed or c.Keyed(new_id("pay_"))
        return await self.fire(c.CreatePayment(
            order_id=order_id, payment_id=keyed.object_id, merchant_id=merchant_id,
            method=new.method, vpa=new.vpa, card_network=new.card_network,
            card_last4=new.card_last4, may_exist=keyed.may_exist, answer=keyed.answer,
            max_attempts=max_attempts, amount=amount, test_outcome=new.test_outcome,
            livemode=livemode))

    async def payment(self, merchant: Merchant | None, payment_id: str) -> Payment:
        payment = await self._queries.payment(payment_id)
        if payment is None or (merchant is not None and not merchant.owns(payment)):
            raise NotFound("Payment")
        return payment

    async def payment_as_of(self, merchant: Merchant, payment_id: str,
                            at: datetime) -> Payment:
        """The payment as it stood at ``at``, rebuilt from its transitions; ``NotFound`` if it
        is not the merchant's or did not exist yet."""
        payment = await self.payment(merchant, payment_id)
        then = object_as_of(PAYMENT, payment, await self._queries.steps(payment.id), at)
        if then is None:
            raise NotFound("Payment")
        return then

    async def payments(self, merchant: Merchant, limit: int, offset: int,
                       status: str | None) -> tuple[list[Payment], int]:
        return await self._queries.payments(merchant.id, merchant.livemode, limit, offset,
                                            status)

    async def capture(self, merchant: Merchant, payment_id: str, amount: int | None) -> Payment:
        payment = await self.payment(merchant, payment_id)
        return await self.fire(c.CapturePayment(order_id=payment.order_id, payment_id=payment.id,
                                                merchant_id=merchant.id, amount=amount,
                                                livemode=merchant.livemode))

    async def transitions(self, entity_id: str) -> list[dict[str, Any]]:
        return await self._queries.transitions(entity_id)

    # -- refunds -----------------------------------------------------------------------

    async def create_refund(self, merchant: Merchant, payment_id: str, amount: int,
                            reason: str | None, keyed: c.Keyed | None = None,
                            captured_only: bool = False) -> Refund | c.Answered:
        payment = await self.payment(merchant, payment_id)
        keyed = keyed or c.Keyed(new_id("rfnd_"))
        return await self.fire(c.CreateRefund(order_id=payment.order_id, payment_id=payment.id,
                                              refund_id=keyed.object_id, merchant_id=merchant.id,
                                              amount=amount, reason=reason,
                                              captured_only=captured_only,
                                              may_exist=keyed.may_exist, answer=keyed.answer,
                                              livemode=merchant.livemode))

    async def created_object(self, merchant_id: str,
                             object_id: str) -> Order | Payment | Refund | None:
        """The order, payment or refund with this id if it exists and is the merchant's: what
        a recovered idempotency key looks for before creating anything."""
        found: Order | Payment | Refund | None = None
        if object_id.startswith("order_"):
            found = await self._queries.order(object_id)
        elif object_id.startswith("pay_"):
            found = await self._queries.payment(object_id)
        elif object_id.startswith("rfnd_"):
            found = await self._queries.refund(object_id)
        return found if found is not None and found.merchant_id == merchant_id else None

    async def refund(self, merchant: Merchant, refund_id: str) -> Refund:
        refund = await self._queries.refund(refund_id)
        if refund is None or not merchant.owns(refund):
            raise NotFound("Refund")
        return refund

    async def refund_as_of(self, merchant: Merchant, refund_id: str, at: datetime) -> Refund:
        """The refund as it stood at ``at`` (as ``payment_as_of``)."""
        refund = await self.refund(merchant, refund_id)
        then = object_as_of(REFUND, refund, await self._queries.steps(refund.id), at)
        if then is None:
            raise NotFound("Refund")
        return then

    async def refunds_of_payment(self, merchant: Merchant, payment_id: str) -> list[Refund]:
        payment = await self.payment(merchant, payment_id)
        return await self._queries.refunds_of_payment(payment.id)

    # -- operations --------------------------------------------------------------------

    async def health(self) -> tuple[bool, dict[str, str]]:
        body = {"status": "healthy", "database": "connected", "redis": "connected",
                "worker": "running", "timestamp": iso(self.clock.now()) or ""}
        ok = True
        try:
            await asyncio.wait_for(self._queries.ping(), 3)
        except Exception:  # noqa: BLE001 - any failure means "not connected"
            body["database"] = "disconnected"
            ok = False
        try:
            alive = await asyncio.wait_for(
                self._aredis.zcount(self.streams.workers, time.time() - STALE_AFTER_S, "+inf"), 3)
            if not alive:
                body["worker"] = "stopped"
                ok = False
        except Exception:  # noqa: BLE001
            body["redis"] = "disconnected"
            body["worker"] = "unknown"
            ok = False
        if not self._router.alive:
            body["worker"] = "stopped"
            ok = False
        if not ok:
            body["status"] = "unhealthy"
        return ok, body

    async def _stream_depths(self) -> dict[str, tuple[int, int]]:
        """Per job stream: (entries not yet read by a consumer, entries read but not acked)."""
        depths = {}
        for stream in self.streams.job_streams:
            try:
                groups = await self._aredis.xinfo_groups(stream)
            except redis.ResponseError:
                continue  # the stream does not exist yet
            depths[stream] = (sum(int(g.get("lag") or 0) for g in groups),
                              sum(int(g.get("pending") or 0) for g in groups))
        return depths

    async def metrics_text(self) -> bytes:
        """The Prometheus exposition, with queue depths read from Redis now."""
        try:
            for stream, (waiting, reading) in (await self._stream_depths()).items():
                self.metrics.queue_depth.labels(stream, "pending").set(waiting)
                self.metrics.queue_depth.labels(stream, "processing").set(reading)
        except redis.RedisError:
            pass  # the counters are still worth serving; /health reports Redis
        for hook in self.before_scrape:
            await hook(self.metrics)
        return self.metrics.render()

    async def jobs_status(self) -> dict[str, Any]:
        totals = {"pending": 0, "processing": 0, "completed": 0, "failed": 0}
        for waiting, reading in (await self._stream_depths()).values():
            totals["pending"] += waiting
            totals["processing"] += reading
        stats = await self._aredis.hgetall(self.streams.job_stats)
        for key in ("completed", "failed"):
            raw = stats.get(key.encode()) or stats.get(key)
            totals[key] = int(raw or 0)
        alive = await self._aredis.zcount(self.streams.workers, time.time() - STALE_AFTER_S, "+inf")
        return {**totals, "worker_status": "running" if alive else "stopped"}

    # -- lists by creation time (any front's collections) --------------------------------

    async def orders_page(self, merchant: Merchant, limit: int, offset: int,
                          created_from: datetime | None = None,
                          created_to: datetime | None = None,
                          receipt: str | None = None) -> list[Order]:
        """The merchant's orders, newest first, created within [from, to] when given."""
        return await self._queries.orders_page(merchant.id, merchant.livemode, limit, offset,
                                              created_from, created_to, receipt)

    async def payments_page(self, merchant: Merchant, limit: int, offset: int,
                            created_from: datetime | None = None,
                            created_to: datetime | None = None) -> list[Payment]:
        return await self._queries.payments_page(merchant.id, merchant.livemode, limit, offset,
                                                created_from, created_to)

    async def refunds_page(self, merchant: Merchant, limit: int, offset: int,
                           created_from: datetime | None = None,
                           created_to: datetime | None = None) -> list[Refund]:
        return await self._queries.refunds_page(merchant.id, merchant.livemode, limit, offset,
                                               created_from, created_to)

    async def payments_of_order(self, merchant: Merchant, order_id: str) -> list[Payment]:
        """Every payment of one of the merchant's orders, newest first (NotFound otherwise)."""
        order = await self.order(merchant, order_id)
        return await self._queries.payments_of_order(order.id)

    async def payment_counts(self, order_ids: list[str]) -> dict[str, int]:
        """How many payments each order has had (orders with none are left out)."""
        return await self._queries.payment_counts(order_ids) if order_ids else {}
