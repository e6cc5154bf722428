"""Order: created -> paid. A paid order takes no new payment, and only one payment pays it.

``paid_payment_id`` names the payment that paid the order: the one payment of the order that
may succeed, be captured and be refunded. Creating a payment does not move the order: the
shard checks that it is still ``created`` (``accepts_payment``) and the transaction requires
it still to be so when it commits, so payments of one order are created side by side in any
number of processes while the order's own compare-and-set decides which one pays it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import AttemptsExhausted, ValidationError
from .spec import MachineSpec, TransitionSpec

ORDER_ALREADY_PAID = "Order is already paid"
AMOUNT_MISMATCH = "amount does not match order"


def accepts_payment(order: Any) -> bool:
    return bool(order.state == "created")


def check_attempts(made: int, cap: int | None) -> None:
    """The public checkout's cap on payments per order: ``AttemptsExhausted`` once ``made``
    reached it (None: no cap, the merchant's own API)."""
    if cap is not None and made >= cap:
        # The text gives no count away: the shopper learns only that the cap is reached.
        raise AttemptsExhausted("This order has had the most payment attempts allowed")


def on_bank_success(order: Any) -> tuple[str, ...]:
    """The triggers a bank's yes fires, first success wins: on an unpaid order the payment
    succeeds and pays it (``succeed`` on the payment, ``mark_paid`` on the order); once another
    payment paid it, this one is declined (``decline_paid_order``), never a second success."""
    return ("succeed", "mark_paid") if accepts_payment(order) else ("decline_paid_order",)


def paid_by(order: Any, payment_id: str) -> bool:
    """Whether ``payment_id`` paid ``order``: only that payment is ever captured (orders paid
    twice before the one-success rule existed keep their second payment uncapturable)."""
    return bool(order.paid_payment_id == payment_id)


def check_amount(order: Any, amount: int | None) -> None:
    """A payment's amount is its order's. A caller may still state it (the seed's clients
    send it); then it must be the order's, else ``ValidationError``. None: not stated."""
    if amount is not None and amount != order.amount:
        raise ValidationError(AMOUNT_MISMATCH, param="amount")


def _paid_by(order: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"paid_payment_id": kwargs["payment_id"]}


ORDER = MachineSpec(
    name="order",
    states=("created", "paid"),
    initial="created",
    final=("paid",),
    transitions=(
        TransitionSpec("mark_paid", "created", "paid", effect=_paid_by),
    ),
    wrong_state={"mark_paid": ORDER_ALREADY_PAID},
)
