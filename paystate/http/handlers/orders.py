"""Orders: create, read, and the public view the checkout page uses."""

from __future__ import annotations

from typing import Any

from ...engine.bridge import Answered, Keyed, Merchant
from ...machines.models import Order
from .. import inputs
from ..base import BaseHandler
from ..idempotency import create_once
from ..renderers import order_json, order_public_json


class OrdersHandler(BaseHandler):
    merchant_auth = True

    async def post(self) -> None:
        merchant = await self.merchant()
        body = self.json_body()
        await create_once(self, merchant, body, "order",
                          lambda keyed: self.create(merchant, body, keyed), order_json)

    async def create(self, merchant: Merchant, body: dict[str, Any],
                     keyed: Keyed | None) -> Order | Answered:
        new = inputs.new_order(inputs.known(body, inputs.ORDER_FIELDS))
        return await self.engine.create_order(merchant, new.amount, new.currency, new.receipt,
                                              new.notes, keyed)


class OrderHandler(BaseHandler):
    merchant_auth = True

    async def get(self, order_id: str) -> None:
        merchant = await self.merchant()
        self.send(200, order_json(await self.engine.order(merchant, order_id)))


class OrderPublicHandler(BaseHandler):
    async def get(self, order_id: str) -> None:
        await self.limit_public(("order", order_id, self.deps.guards.public_order_rate))
        order = await self.engine.order(None, order_id)
        brand = await self.engine.merchant_brand(order.merchant_id)
        self.send(200, order_public_json(order, brand))
