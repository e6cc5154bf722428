"""Payment: pending -> success | failed; capture and refund bookkeeping on a successful payment.

Refunds are reserved on the payment itself (``amount_refund_pending``) under the payment's
compare-and-set, so concurrent refund requests in any number of processes cannot overdraw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidTransition
from .spec import MachineSpec, TransitionSpec

DECLINED_CODE = "PAYMENT_FAILED"
DECLINED_DESCRIPTION = "Payment declined by bank"
NOT_CAPTURABLE = "Payment not in capturable state"
NOT_REFUNDABLE = "Payment not in refundable state"
EXCEEDS_AVAILABLE = "Refund amount exceeds available amount"
HAS_REFUNDS = "Payment has refunds and can no longer be captured"
NOT_CAPTURED = "The payment has not been captured"
CAPTURE_AMOUNT = "Capture amount must equal the payment amount"
UNRESERVED_REFUND = "The payment holds no reservation for this refund"
ORDER_ALREADY_PAID_CODE = "ORDER_ALREADY_PAID"
ORDER_ALREADY_PAID_DESCRIPTION = "Order was already paid by another payment"


@dataclass(frozen=True)
class Outcome:
    """How a pending payment ends: approved, or declined with the error code and description
    the failed payment then carries (the arguments of the ``fail`` trigger)."""

    approved: bool
    error_code: str | None = None
    error_description: str | None = None

    def fail_args(self) -> dict[str, str]:
        """The ``fail`` trigger's arguments for this outcome (none: the default decline)."""
        args = {"error_code": self.error_code, "error_description": self.error_description}
        return {k: v for k, v in args.items() if v is not None}


APPROVED = Outcome(approved=True)
DECLINED = Outcome(approved=False, error_code=DECLINED_CODE,
                   error_description=DECLINED_DESCRIPTION)


def refundable_amount(payment: Any) -> int:
    return int(payment.amount - payment.amount_refunded - payment.amount_refund_pending)


def check_capture_amount(payment: Any, amount: int | None) -> None:
    """A capture is of the whole payment: a stated amount must be the payment's."""
    if amount is not None and amount != payment.amount:
        raise InvalidTransition(CAPTURE_AMOUNT)


def has_refunds(payment: Any) -> bool:
    """Any refund processed or pending: money that capturing would take a second time."""
    return bool(payment.amount_refunded or payment.amount_refund_pending)


def _capturable(payment: Any, kwargs: Mapping[str, Any]) -> bool:
    return not payment.captured and not has_refunds(payment)


def _capture_refusal(payment: Any, kwargs: Mapping[str, Any]) -> str:
    return HAS_REFUNDS if not payment.captured else NOT_CAPTURABLE


def _refund_fits(payment: Any, kwargs: Mapping[str, Any]) -> bool:
    # ``captured_only``: the Razorpay dialect refunds captured payments only, as Razorpay does.
    if kwargs.get("captured_only") and not payment.captured:
        return False
    return 0 < int(kwargs["amount"]) <= refundable_amount(payment)


def _refund_refusal(payment: Any, kwargs: Mapping[str, Any]) -> str:
    if kwargs.get("captured_only") and not payment.captured:
        return NOT_CAPTURED
    return EXCEEDS_AVAILABLE


def _refund_reserved(payment: Any, kwargs: Mapping[str, Any]) -> bool:
    # A refund settles or is released only out of what was reserved for it: whatever the
    # caller sends, the counters never go below zero or above the amount.
    return 0 < int(kwargs["amount"]) <= payment.amount_refund_pending


def _fail_effect(payment: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    # Who declined says why (a test card's CARD_DECLINED, the acquirer's answer); without a
    # reason it is the bank's plain decline.
    return {"error_code": kwargs.get("error_code") or DECLINED_CODE,
            "error_description": kwargs.get("error_description") or DECLINED_DESCRIPTION}


def _decline_effect(payment: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"error_code": ORDER_ALREADY_PAID_CODE,
            "error_description": ORDER_ALREADY_PAID_DESCRIPTION}


def _capture_effect(payment: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"captured": True}


def _reserve_effect(payment: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"amount_refund_pending": payment.amount_refund_pending + int(kwargs["amount"])}


def _settle_refund_effect(payment: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    amount = int(kwargs["amount"])
    return {
        "amount_refund_pending": payment.amount_refund_pending - amount,
        "amount_refunded": payment.amount_refunded + amount,
    }


def _release_refund_effect(payment: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"amount_refund_pending": payment.amount_refund_pending - int(kwargs["amount"])}


PAYMENT = MachineSpec(
    name="payment",
    states=("pending", "success", "failed"),
    initial="pending",
    final=("success", "failed"),
    created_events=("payment.created", "payment.pending"),
    transitions=(
        TransitionSpec("succeed", "pending", "success", events=("payment.success",)),
        TransitionSpec("fail", "pending", "failed", effect=_fail_effect,
                       events=("payment.failed",)),
        # The bank said yes, but another payment of the order succeeded first: only the first
        # success counts, so this one is declined instead of taking the shopper's money twice.
        TransitionSpec("decline_paid_order", "pending", "failed", effect=_decline_effect,
                       events=("payment.failed",)),
        TransitionSpec("capture", "success", "success", guard=_capturable,
                       refusal=_capture_refusal, effect=_capture_effect,
                       events=("payment.captured",)),
        TransitionSpec("reserve_refund", "success", "success", guard=_refund_fits,
                       refusal=_refund_refusal, effect=_reserve_effect),
        TransitionSpec("settle_refund", "success", "success", guard=_refund_reserved,
                       effect=_settle_refund_effect),
        TransitionSpec("release_refund", "success", "success", guard=_refund_reserved,
                       effect=_release_refund_effect),
    ),
    wrong_state={"capture": NOT_CAPTURABLE, "reserve_refund": NOT_REFUNDABLE},
)
