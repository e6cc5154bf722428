"""The Razorpay-compatible front: Razorpay's ``/v1`` dialect of the API over the same engine
as the native ``/api/v1``, so that Razorpay's official server clients work by changing only
their base URL. ``routes()`` is what ``make_app`` mounts (unless ``RAZORPAY_FRONT=false``)."""

from __future__ import annotations

from .base import UnsupportedHandler
from .orders import RazorpayOrderHandler, RazorpayOrderPaymentsHandler, RazorpayOrdersHandler
from .payments import (
    RazorpayCaptureHandler,
    RazorpayCreateJsonHandler,
    RazorpayCreateUpiHandler,
    RazorpayPaymentHandler,
    RazorpayPaymentsHandler,
)
from .refunds import (
    RazorpayPaymentRefundHandler,
    RazorpayPaymentRefundOneHandler,
    RazorpayPaymentRefundsHandler,
    RazorpayRefundHandler,
    RazorpayRefundsHandler,
)

ID = r"([A-Za-z0-9_\-]{1,64})"


def routes() -> list[tuple[str, type]]:
    """Specific paths first; the last route answers every other ``/v1`` path with a 400."""
    return [
        (r"/v1/orders", RazorpayOrdersHandler),
        (rf"/v1/orders/{ID}/payments", RazorpayOrderPaymentsHandler),
        (rf"/v1/orders/{ID}", RazorpayOrderHandler),
        (r"/v1/payments/create/upi", RazorpayCreateUpiHandler),
        (r"/v1/payments/create/json", RazorpayCreateJsonHandler),
        (r"/v1/payments", RazorpayPaymentsHandler),
        (rf"/v1/payments/{ID}/capture", RazorpayCaptureHandler),
        (rf"/v1/payments/{ID}/refund", RazorpayPaymentRefundHandler),
        (rf"/v1/payments/{ID}/refunds/{ID}", RazorpayPaymentRefundOneHandler),
        (rf"/v1/payments/{ID}/refunds", RazorpayPaymentRefundsHandler),
        (rf"/v1/payments/{ID}", RazorpayPaymentHandler),
        (r"/v1/refunds", RazorpayRefundsHandler),
        (rf"/v1/refunds/{ID}", RazorpayRefundHandler),
        (r"/v1(?:/.*)?", UnsupportedHandler),
    ]
