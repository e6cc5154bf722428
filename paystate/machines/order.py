"""Order: created -> paid. A paid order takes no new payment, and only one payment pays it.

``attempts`` counts the payments made on the order (Razorpay's ``attempts``); a public caller
may be held to a cap on it. ``paid_payment_id`` names the payment that paid the order: the one
payment of the order that may succeed, be captured and be refunded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import MachineSpec, TransitionSpec

ORDER_ALREADY_PAID = "Order is already paid"


def _count_attempt(order: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"attempts": order.attempts + 1}


def _paid_by(order: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"paid_payment_id": kwargs["payment_id"]}


ORDER = MachineSpec(
    name="order",
    states=("created", "paid"),
    initial="created",
    final=("paid",),
    transitions=(
        # A reflexive transition that bumps the order's version: two processes creating a
        # payment for one order while another payment succeeds are serialised on the order row.
        TransitionSpec("add_payment", "created", "created", effect=_count_attempt),
        TransitionSpec("mark_paid", "created", "paid", effect=_paid_by),
    ),
    wrong_state={"add_payment": ORDER_ALREADY_PAID, "mark_paid": ORDER_ALREADY_PAID},
)
