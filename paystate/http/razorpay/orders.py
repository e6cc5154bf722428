"""``/v1/orders``: create, list, fetch, and an order's payments."""

from __future__ import annotations

from typing import Any

from ...engine.bridge import Answered, Keyed, Merchant
from ...machines.models import Order
from .. import inputs
from ..idempotency import create_once
from . import renderers
from .base import RazorpayHandler
from .errors import about, refused

ORDER_FIELDS = ("amount", "currency", "receipt", "notes", "partial_payment", "payment_capture")
# Razorpay order options Paystate does not offer: accepted only when they ask for nothing.
NOT_OFFERED = {
    "partial_payment": "partial payments are not supported: an order is paid by one payment",
    "payment_capture": ("automatic capture is not supported: capture each authorized payment "
                        "with POST /v1/payments/{id}/capture"),
}


class RazorpayOrdersHandler(RazorpayHandler):
    async def post(self) -> None:
        merchant = await self.merchant()
        body = self.body(ORDER_FIELDS)
        await create_once(self, self.key_owner(merchant), body, "order",
                          lambda keyed: self.create(merchant, body, keyed),
                          lambda o: renderers.order(o, 0), status=200)

    async def create(self, merchant: Merchant, body: dict[str, Any],
                     keyed: Keyed | None) -> Order | Answered:
        for name, why in NOT_OFFERED.items():
            if body.get(name) not in (None, False, 0, "0", "false"):
                raise refused(why, name)
        with about("amount", "currency", "receipt", "notes"):
            new = inputs.new_order(body)
        return await self.engine.create_order(merchant, new.amount, new.currency, new.receipt,
                                              new.notes, keyed)

    async def get(self) -> None:
        merchant = await self.merchant()
        window = self.window("receipt")
        with about("receipt"):
            receipt = inputs.text({"receipt": self.get_query_argument("receipt", None)},
                                  "receipt", max_length=40)
        orders = await self.engine.orders_page(merchant, window.count, window.skip,
                                               window.created_from, window.created_to,
                                               receipt or None)
        attempts = await self.engine.payment_counts([o.id for o in orders])
        self.send(200, renderers.collection(
            [renderers.order(o, attempts.get(o.id, 0)) for o in orders]))


class RazorpayOrderHandler(RazorpayHandler):
    async def get(self, order_id: str) -> None:
        merchant = await self.merchant()
        self.only_query(())
        order = await self.engine.order(merchant, order_id)
        attempts = await self.engine.payment_counts([order.id])
        self.send(200, renderers.order(order, attempts.get(order.id, 0)))


class RazorpayOrderPaymentsHandler(RazorpayHandler):
    async def get(self, order_id: str) -> None:
        merchant = await self.merchant()
        window = self.window()
        payments = await self.engine.payments_of_order(merchant, order_id)
        self.send(200, renderers.collection([renderers.payment(p) for p in window(payments)]))
