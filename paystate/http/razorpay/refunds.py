"""Refunds: ``POST /v1/payments/{id}/refund``, ``POST /v1/refunds``, and their reads.

Without ``amount`` a refund is for the payment's whole refundable rest (its amount less its
pending and processed refunds) as read now; the payment's shard decides again under its
compare-and-set, so a concurrent refund makes this one fail rather than overdraw.
"""

from __future__ import annotations

from typing import Any

from ...engine.bridge import Answered, Keyed, Merchant, NotFound
from ...machines.models import Refund
from ...machines.payment import refundable_amount
from .. import inputs
from ..idempotency import create_once
from . import renderers
from .base import RazorpayHandler
from .errors import about, refused

REFUND_FIELDS = ("amount", "notes", "speed")


class RefundCreation(RazorpayHandler):
    async def create(self, merchant: Merchant, payment_id: str, body: dict[str, Any],
                     keyed: Keyed | None) -> Refund | Answered:
        with about("amount"):
            amount = inputs.refund_amount(body, required=False)
        with about("notes"):
            inputs.notes(body)  # accepted, not stored (README)
        speed = body.get("speed")
        if speed not in (None, "normal"):
            raise refused("speed must be normal: instant refunds are not supported", "speed")
        if amount is None:
            amount = refundable_amount(await self.engine.payment(merchant, payment_id))
        # Razorpay refunds captured payments only; the native API keeps the seed's rule.
        return await self.engine.create_refund(merchant, payment_id, amount, None, keyed,
                                               captured_only=True)


class RazorpayPaymentRefundHandler(RefundCreation):
    async def post(self, payment_id: str) -> None:
        merchant = await self.merchant()
        body = self.body(REFUND_FIELDS, optional=True)
        await create_once(self, self.key_owner(merchant), body, "refund",
                          lambda keyed: self.create(merchant, payment_id, body, keyed),
                          renderers.refund, status=200)


class RazorpayPaymentRefundsHandler(RazorpayHandler):
    async def get(self, payment_id: str) -> None:
        merchant = await self.merchant()
        window = self.window()
        refunds = await self.engine.refunds_of_payment(merchant, payment_id)
        newest_first = list(reversed(refunds))
        self.send(200, renderers.collection([renderers.refund(r) for r in window(newest_first)]))


class RefundFetch(RazorpayHandler):
    async def refund_at(self, merchant: Merchant, refund_id: str) -> Refund:
        """The refund now, or as it stood at the ``as_of`` query parameter."""
        as_of = self.as_of()
        if as_of is None:
            return await self.engine.refund(merchant, refund_id)
        return await self.engine.refund_as_of(merchant, refund_id, as_of)


class RazorpayPaymentRefundOneHandler(RefundFetch):
    async def get(self, payment_id: str, refund_id: str) -> None:
        merchant = await self.merchant()
        refund = await self.refund_at(merchant, refund_id)
        if refund.payment_id != payment_id:
            raise NotFound("Refund")
        self.send(200, renderers.refund(refund))


class RazorpayRefundsHandler(RefundCreation):
    async def post(self) -> None:
        merchant = await self.merchant()
        body = self.body(("payment_id", *REFUND_FIELDS))
        await create_once(self, self.key_owner(merchant), body, "refund",
                          lambda keyed: self.create_from_body(merchant, body, keyed),
                          renderers.refund, status=200)

    async def create_from_body(self, merchant: Merchant, body: dict[str, Any],
                               keyed: Keyed | None) -> Refund | Answered:
        with about("payment_id"):
            payment_id = inputs.text(body, "payment_id", required=True, max_length=64)
        assert payment_id is not None
        return await self.create(merchant, payment_id, body, keyed)

    async def get(self) -> None:
        merchant = await self.merchant()
        window = self.window()
        refunds = await self.engine.refunds_page(merchant, window.count, window.skip,
                                                 window.created_from, window.created_to)
        self.send(200, renderers.collection([renderers.refund(r) for r in refunds]))


class RazorpayRefundHandler(RefundFetch):
    async def get(self, refund_id: str) -> None:
        merchant = await self.merchant()
        self.send(200, renderers.refund(await self.refund_at(merchant, refund_id)))
