"""Order: created -> paid. A paid order takes no new payment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import MachineSpec, TransitionSpec


def _accepts_payment(order: Any, kwargs: Mapping[str, Any]) -> bool:
    return bool(order.status == "created")


ORDER = MachineSpec(
    name="order",
    states=("created", "paid"),
    initial="created",
    final=("paid",),
    transitions=(
        # A reflexive transition that bumps the order's version: two processes creating a
        # payment for one order while another payment succeeds are serialised on the order row.
        TransitionSpec("add_payment", "created", "created", guard=_accepts_payment,
                       refusal="Order is already paid"),
        TransitionSpec("mark_paid", "created", "paid"),
    ),
)
