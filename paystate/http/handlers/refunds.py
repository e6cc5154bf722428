"""Refunds: create (under a payment or with payment_id in the body), read, list, transitions."""

from __future__ import annotations

from typing import Any

from ...engine.bridge import Answered, Keyed, Merchant
from ...machines.models import Refund
from .. import inputs
from ..base import BaseHandler
from ..idempotency import create_once
from ..renderers import refund_json, transition_json


class RefundCreation(BaseHandler):
    merchant_auth = True

    async def create(self, merchant: Merchant, payment_id: str, body: dict[str, Any],
                     keyed: Keyed | None = None,
                     fields: tuple[str, ...] = inputs.REFUND_FIELDS) -> Refund | Answered:
        inputs.known(body, fields)
        amount = inputs.refund_amount(body)
        assert amount is not None
        reason = inputs.text(body, "reason", max_length=255)
        return await self.engine.create_refund(merchant, payment_id, amount, reason, keyed)


class PaymentRefundsHandler(RefundCreation):
    async def post(self, payment_id: str) -> None:
        merchant = await self.merchant()
        body = self.json_body()
        await create_once(self, merchant, body, "refund",
                          lambda keyed: self.create(merchant, payment_id, body, keyed),
                          refund_json)

    async def get(self, payment_id: str) -> None:
        merchant = await self.merchant()
        refunds = await self.engine.refunds_of_payment(merchant, payment_id)
        self.send(200, [refund_json(r) for r in refunds])


class RefundsHandler(RefundCreation):
    async def post(self) -> None:
        merchant = await self.merchant()
        body = self.json_body()
        await create_once(self, merchant, body, "refund",
                          lambda keyed: self.create_from_body(merchant, body, keyed),
                          refund_json)

    async def create_from_body(self, merchant: Merchant, body: dict[str, Any],
                               keyed: Keyed | None) -> Refund | Answered:
        payment_id = inputs.text(body, "payment_id", required=True, max_length=64)
        assert payment_id is not None
        return await self.create(merchant, payment_id, body, keyed,
                                 ("payment_id", *inputs.REFUND_FIELDS))


class RefundHandler(BaseHandler):
    merchant_auth = True

    async def get(self, refund_id: str) -> None:
        merchant = await self.merchant()
        as_of = inputs.query_instant(self.get_query_argument("as_of", None), "as_of")
        refund = (await self.engine.refund(merchant, refund_id) if as_of is None
                  else await self.engine.refund_as_of(merchant, refund_id, as_of))
        self.send(200, refund_json(refund))


class RefundTransitionsHandler(BaseHandler):
    merchant_auth = True

    async def get(self, refund_id: str) -> None:
        merchant = await self.merchant()
        refund = await self.engine.refund(merchant, refund_id)
        self.send(200, [transition_json(t) for t in await self.engine.transitions(refund.id)])
