"""Engine objects as Razorpay entities: one renderer per entity, and the collection.

Timestamps are unix seconds. The payment's ``status`` maps the payment machine: pending ->
``created``; success -> ``authorized``, ``captured`` once captured, ``refunded`` once its
processed refunds reach its amount; failed -> ``failed``. ``amount_refunded`` counts processed
refunds, as on the native front; ``refund_status`` is null, ``partial`` or ``full`` from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...machines.models import Order, Payment, Refund
from ..inputs import CURRENCIES


def unix(at: datetime) -> int:
    return int(at.timestamp())


def order(o: Order, attempts: int) -> dict[str, Any]:
    """``attempts``: how many payments the order has had (paid or not)."""
    paid = o.amount if o.state == "paid" else 0
    status = "paid" if o.state == "paid" else ("attempted" if attempts else "created")
    return {"id": o.id, "entity": "order", "amount": o.amount, "amount_paid": paid,
            "amount_due": o.amount - paid, "currency": o.currency, "receipt": o.receipt,
            "status": status, "attempts": attempts, "notes": o.notes,
            "created_at": unix(o.created_at)}


def payment_status(p: Payment) -> str:
    if p.state == "pending":
        return "created"
    if p.state == "success":
        if p.amount_refunded >= p.amount:
            return "refunded"
        return "captured" if p.captured else "authorized"
    return str(p.state)


def refund_status(p: Payment) -> str | None:
    if p.amount_refunded == 0:
        return None
    return "full" if p.amount_refunded >= p.amount else "partial"


def payment(p: Payment) -> dict[str, Any]:
    # email and contact are accepted on create but not stored: always null (README).
    return {"id": p.id, "entity": "payment", "amount": p.amount, "currency": p.currency,
            "status": payment_status(p), "order_id": p.order_id, "method": p.method,
            "captured": p.captured, "amount_refunded": p.amount_refunded,
            "refund_status": refund_status(p), "vpa": p.vpa, "email": None, "contact": None,
            "error_code": p.error_code, "error_description": p.error_description,
            "created_at": unix(p.created_at)}


def refund(r: Refund) -> dict[str, Any]:
    # Refunds carry no currency of their own: the gateway takes INR only (inputs.CURRENCIES).
    # Notes on a refund are accepted but not stored: always {} (README).
    return {"id": r.id, "entity": "refund", "amount": r.amount, "currency": CURRENCIES[0],
            "payment_id": r.payment_id, "status": r.state, "notes": {},
            "created_at": unix(r.created_at)}


def collection(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"entity": "collection", "count": len(items), "items": items}


def created_payment(p: Payment) -> dict[str, Any]:
    """The answer of the server-to-server creates: the new payment's id."""
    return {"razorpay_payment_id": p.id}
