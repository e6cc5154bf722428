"""Orders: create, read, and the public view the checkout page uses."""

from __future__ import annotations

from ...engine.records import order_json, order_public_json
from .. import inputs
from ..base import BaseHandler


class OrdersHandler(BaseHandler):
    async def post(self) -> None:
        merchant = await self.merchant()
        body = self.json_body()
        amount = inputs.integer(body, "amount", minimum=100,
                                minimum_message="amount must be at least 100")
        assert amount is not None
        currency = inputs.currency(body)
        receipt = inputs.text(body, "receipt", max_length=40)
        notes = inputs.notes(body)
        order = await self.engine.create_order(merchant, amount, currency, receipt, notes)
        self.send(201, order_json(order))


class OrderHandler(BaseHandler):
    async def get(self, order_id: str) -> None:
        merchant = await self.merchant()
        self.send(200, order_json(await self.engine.order(merchant, order_id)))


class OrderPublicHandler(BaseHandler):
    async def get(self, order_id: str) -> None:
        self.send(200, order_public_json(await self.engine.order(None, order_id)))
