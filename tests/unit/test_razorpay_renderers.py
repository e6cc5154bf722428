"""The Razorpay dialect's renderers: how the payment and order machines' states read as
Razorpay statuses (pure functions, no servers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from paystate.http.razorpay import renderers
from paystate.machines.models import Order, Payment

AT = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
PAYMENT = Payment(id="pay_AAAAAAAAAAAAAAAA", order_id="order_AAAAAAAAAAAAAAAA",
                  merchant_id="m", amount=10000, currency="INR", method="upi", vpa="a@b",
                  card_network=None, card_last4=None, state="pending", captured=False,
                  error_code=None, error_description=None, amount_refunded=0,
                  amount_refund_pending=0, settle_due_at=None, version=1, created_at=AT,
                  updated_at=AT)
ORDER = Order(id="order_AAAAAAAAAAAAAAAA", merchant_id="m", amount=10000, currency="INR",
              receipt=None, notes={}, state="created", version=1, created_at=AT, updated_at=AT)


@pytest.mark.parametrize("changes,status,refund_status", [
    ({}, "created", None),
    ({"state": "failed"}, "failed", None),
    ({"state": "success"}, "authorized", None),
    ({"state": "success", "captured": True}, "captured", None),
    ({"state": "success", "captured": True, "amount_refunded": 100}, "captured", "partial"),
    ({"state": "success", "amount_refund_pending": 10000}, "authorized", None),
    ({"state": "success", "captured": True, "amount_refunded": 10000}, "refunded", "full"),
    ({"state": "success", "amount_refunded": 10000}, "refunded", "full"),
])
def test_payment_status_maps_the_machine(changes: dict[str, object], status: str,
                                         refund_status: str | None) -> None:
    body = renderers.payment(replace(PAYMENT, **changes))
    assert (body["status"], body["refund_status"]) == (status, refund_status)
    assert body["created_at"] == int(AT.timestamp()) and body["entity"] == "payment"


@pytest.mark.parametrize("state,attempts,status,paid", [
    ("created", 0, "created", 0), ("created", 2, "attempted", 0), ("paid", 1, "paid", 10000)])
def test_order_status_and_amounts(state: str, attempts: int, status: str, paid: int) -> None:
    body = renderers.order(replace(ORDER, state=state), attempts)
    assert (body["status"], body["attempts"]) == (status, attempts)
    assert (body["amount_paid"], body["amount_due"]) == (paid, 10000 - paid)
