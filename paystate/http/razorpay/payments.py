"""``/v1/payments``: server-to-server creation (UPI collect, JSON), list, fetch, capture.

A created payment is ``created`` (the engine's ``pending``) at once and settles in the
background; a client polls ``GET /v1/payments/{id}`` until ``authorized`` or ``failed``.
"""

from __future__ import annotations

from typing import Any

from ...engine.bridge import Answered, Keyed, Merchant, NewPayment
from ...machines.models import Order, Payment
from .. import inputs
from ..idempotency import create_once
from . import renderers
from .base import RazorpayHandler
from .errors import about, refused

# Fields of a server-to-server payment. email, contact, notes, description, ip, referer and
# user_agent are checked and accepted but not stored (README "Coming from Razorpay").
PAYMENT_FIELDS = ("amount", "currency", "order_id", "method", "vpa", "upi", "card", "email",
                  "contact", "notes", "description", "ip", "referer", "user_agent")
UPI_FIELDS = ("flow", "vpa", "expiry_time")
CARD_FIELDS = ("number", "name", "expiry_month", "expiry_year", "cvv")


class PaymentCreation(RazorpayHandler):
    """Checks in order: Idempotency-Key (in ``post``), the order (unknown: 400 "The id
    provided does not exist"), amount and currency against the order, then the method's own
    checks (shared with the native front: ``inputs.instrument``)."""

    methods: tuple[str, ...] = ("upi", "card")

    async def post(self) -> None:
        merchant = await self.merchant()
        body = self.body(PAYMENT_FIELDS)
        await create_once(self, self.key_owner(merchant), body, "payment",
                          lambda keyed: self.create(merchant, body, keyed),
                          self.answer, status=200)

    def answer(self, payment: Payment) -> dict[str, Any]:
        return renderers.created_payment(payment)

    async def create(self, merchant: Merchant, body: dict[str, Any],
                     keyed: Keyed | None) -> Payment | Answered:
        with about("order_id"):
            order_id = inputs.text(body, "order_id", required=True, max_length=64)
        assert order_id is not None
        order = await self.engine.order(merchant, order_id)
        self.check_order_terms(body, order)
        with about("email", "contact", "description", "ip", "referer", "user_agent", "notes"):
            for name in ("email", "contact", "description", "ip", "referer", "user_agent"):
                inputs.text(body, name, max_length=1024 if name == "user_agent" else 255)
            inputs.notes(body)
        new = self.instrument(body)
        return await self.engine.create_payment(order, new, keyed)

    @staticmethod
    def check_order_terms(body: dict[str, Any], order: Order) -> None:
        with about("amount"):
            amount = inputs.integer(body, "amount", minimum=1)
        if amount != order.amount:
            raise refused("amount must equal the order's amount", "amount")
        with about("currency"):
            if inputs.currency(body) != order.currency:
                raise refused("currency must equal the order's currency", "currency")

    def instrument(self, body: dict[str, Any]) -> NewPayment:
        method = body.get("method")
        if method not in self.methods:
            raise refused("method must be one of: " + ", ".join(self.methods), "method")
        vpa = body.get("vpa")
        upi = body.get("upi")
        if upi is not None:
            if method != "upi":
                raise refused("upi is only for method upi", "upi")
            vpa = self.collect_vpa(upi, vpa)
        card = body.get("card")
        if card is not None and method != "card":
            raise refused("card is only for method card", "card")
        if isinstance(card, dict):
            for name in card:
                if name not in CARD_FIELDS:
                    raise refused(f"card.{name} is not supported by this API", "card")
            # Razorpay calls the holder's name "name"; the shared check calls it holder_name.
            card = {**{k: v for k, v in card.items() if k != "name"},
                    "holder_name": card.get("name")}
        with about("vpa" if method == "upi" else "card"):
            return inputs.instrument(method, vpa, card, self.engine.today())

    @staticmethod
    def collect_vpa(upi: Any, vpa: Any) -> Any:
        """The VPA of a UPI collect request (``upi.vpa``, or the older top-level ``vpa``)."""
        if not isinstance(upi, dict):
            raise refused("upi must be an object", "upi")
        for name in upi:
            if name not in UPI_FIELDS:
                raise refused(f"upi.{name} is not supported by this API", "upi")
        if upi.get("flow", "collect") != "collect":
            raise refused("only the UPI collect flow is supported: send upi.flow collect "
                          "with the shopper's vpa", "upi")
        expiry = upi.get("expiry_time")
        if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, (int, str))
                                   or not str(expiry).isascii() or not str(expiry).isdigit()
                                   or len(str(expiry)) > 4):
            raise refused("upi.expiry_time must be a number of minutes", "upi")
        inner = upi.get("vpa")
        if inner is not None and vpa is not None and inner != vpa:
            raise refused("vpa and upi.vpa differ", "vpa")
        return inner if inner is not None else vpa


class RazorpayCreateUpiHandler(PaymentCreation):
    """``POST /v1/payments/create/upi``: answers ``{"razorpay_payment_id"}``."""

    methods = ("upi",)


class RazorpayCreateJsonHandler(PaymentCreation):
    """``POST /v1/payments/create/json``: UPI or card; answers ``{"razorpay_payment_id",
    "next": []}`` - no redirect or OTP step follows, the payment settles by itself."""

    def answer(self, payment: Payment) -> dict[str, Any]:
        return {**renderers.created_payment(payment), "next": []}


class RazorpayPaymentsHandler(RazorpayHandler):
    async def get(self) -> None:
        merchant = await self.merchant()
        window = self.window()
        payments = await self.engine.payments_page(merchant, window.count, window.skip,
                                                   window.created_from, window.created_to)
        self.send(200, renderers.collection([renderers.payment(p) for p in payments]))


class RazorpayPaymentHandler(RazorpayHandler):
    async def get(self, payment_id: str) -> None:
        merchant = await self.merchant()
        as_of = self.as_of()
        payment = (await self.engine.payment(merchant, payment_id) if as_of is None
                   else await self.engine.payment_as_of(merchant, payment_id, as_of))
        self.send(200, renderers.payment(payment))


class RazorpayCaptureHandler(RazorpayHandler):
    """``{amount, currency}``, both required as on Razorpay: the amount must equal the
    payment's (the engine's rule)."""

    async def post(self, payment_id: str) -> None:
        merchant = await self.merchant()
        body = self.body(("amount", "currency"))
        payment = await self.engine.payment(merchant, payment_id)
        with about("amount"):
            amount = inputs.integer(body, "amount")
        with about("currency"):
            if body.get("currency") is None:
                raise refused("The currency field is required.", "currency")
            if inputs.currency(body) != payment.currency:
                raise refused("currency must equal the payment's currency", "currency")
        self.send(200, renderers.payment(
            await self.engine.capture(merchant, payment.id, amount)))
