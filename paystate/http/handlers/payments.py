"""Payments: create (merchant and public), read, list, capture, transitions."""

from __future__ import annotations

from typing import Any

from ...engine.bridge import Answered, Keyed, Merchant
from ...machines.errors import DomainError
from ...machines.models import Payment
from .. import inputs
from ..base import BaseHandler
from ..errors import ApiError, bad_request
from ..idempotency import create_once
from ..renderers import payment_json, payment_public_json, transition_json

STATUSES = ("pending", "success", "failed")


class PaymentCreation(BaseHandler):
    """Shared by the merchant and the public create: the contract's validation order is
    order (404), then the method's own checks (the idempotency key comes first, in post)."""

    async def create(self, merchant: Merchant | None, body: dict[str, Any],
                     keyed: Keyed | None = None,
                     max_attempts: int | None = None) -> Payment | Answered:
        order_id = inputs.text(body, "order_id", required=True, max_length=64)
        assert order_id is not None
        try:
            inputs.known(body, inputs.PAYMENT_FIELDS)
            # Optional, and then the order's (the shard compares): typed like every amount.
            amount = inputs.integer(body, "amount", required=False)
            inputs.currency(body)
            if body.get("method") == "card" and isinstance(body.get("card"), dict):
                inputs.known(body["card"], inputs.CARD_FIELDS, "card")
            new = inputs.instrument(body.get("method"), body.get("vpa"), body.get("card"),
                                    self.engine.today())
        except (ApiError, DomainError):
            # An unknown order is a 404 before any method error: only then is it read here.
            await self.engine.order(merchant, order_id)
            raise
        # The owning shard loads the order (404 if missing or another merchant's) and refuses a
        # paid one.
        return await self.engine.create_payment(order_id, new, keyed, max_attempts,
                                                merchant=merchant, amount=amount)


class PaymentsHandler(PaymentCreation):
    merchant_auth = True

    async def post(self) -> None:
        merchant = await self.merchant()
        body = self.json_body()
        await create_once(self, merchant, body, "payment",
                          lambda keyed: self.create(merchant, body, keyed), payment_json)

    async def get(self) -> None:
        merchant = await self.merchant()
        limit, offset = inputs.page(self.get_query_argument("limit", None),
                                    self.get_query_argument("offset", None), 100, 1000)
        status = self.get_query_argument("status", None) or None
        if status is not None and status not in STATUSES:
            raise bad_request("status must be one of: " + ", ".join(STATUSES), "status")
        payments, total = await self.engine.payments(merchant, limit, offset, status)
        self.send(200, [payment_json(p) for p in payments], {"X-Total-Count": str(total)})


class PublicPaymentsHandler(PaymentCreation):
    async def post(self) -> None:
        body = self.json_body()
        order_id = inputs.text(body, "order_id", required=True, max_length=64)
        assert order_id is not None
        guards = self.deps.guards
        await self.limit_public(("pay", self.request.remote_ip or "-", guards.public_payment_rate),
                                ("order", order_id, guards.public_order_rate))

        async def owner() -> tuple[str, str]:
            # A shopper's key lives in its order's namespace, apart from the merchant's keys.
            return (await self.engine.order(None, order_id)).merchant_id, "public:" + order_id

        await create_once(self, owner, body, "payment",
                          lambda keyed: self.create(None, body, keyed,
                                                    guards.public_payment_attempts),
                          payment_public_json)


class PaymentHandler(BaseHandler):
    merchant_auth = True

    async def get(self, payment_id: str) -> None:
        merchant = await self.merchant()
        as_of = inputs.query_instant(self.get_query_argument("as_of", None), "as_of")
        payment = (await self.engine.payment(merchant, payment_id) if as_of is None
                   else await self.engine.payment_as_of(merchant, payment_id, as_of))
        self.send(200, payment_json(payment))


class PublicPaymentHandler(BaseHandler):
    async def get(self, payment_id: str) -> None:
        await self.limit_public(("payment", payment_id, self.deps.guards.public_order_rate))
        self.send(200, payment_public_json(await self.engine.payment(None, payment_id)))


class CaptureHandler(BaseHandler):
    merchant_auth = True

    async def post(self, payment_id: str) -> None:
        merchant = await self.merchant()
        raw = self.raw_body()
        body = inputs.known(self.json_body() if raw.strip() else {}, ("amount",))
        amount = inputs.integer(body, "amount", required=False)
        payment = await self.engine.capture(merchant, payment_id, amount)
        self.send(200, payment_json(payment))


class PaymentTransitionsHandler(BaseHandler):
    merchant_auth = True

    async def get(self, payment_id: str) -> None:
        merchant = await self.merchant()
        payment = await self.engine.payment(merchant, payment_id)
        self.send(200, [transition_json(t) for t in await self.engine.transitions(payment.id)])
