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
# What a refusal's ``detail`` says where the contract's text is the same for several cases.
ALREADY_CAPTURED = "Payment is already captured"
PENDING_CAPTURE = "Payment is pending: capture it after it succeeds"
FAILED_CAPTURE = "Payment failed: a failed payment cannot be captured"
PAID_BY_ANOTHER = ("Another payment paid this payment's order: only that payment can be "
                   "captured")
PENDING_REFUND = "Payment is pending: refund it after it succeeds"
FAILED_REFUND = "Payment failed: no money was taken, so there is nothing to refund"
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


def rupees(paise: int) -> str:
    """``12345`` -> ``"₹123.45"``, for people reading an error."""
    return f"₹{paise // 100}.{paise % 100:02d}"


def check_capture_amount(payment: Any, amount: int | None) -> None:
    """A capture is of the whole payment: a stated amount must be the payment's."""
    if amount is not None and amount != payment.amount:
        raise InvalidTransition(CAPTURE_AMOUNT, param="amount")


def not_capturable(payment: Any, kwargs: Mapping[str, Any] | None = None, *,
                   paid_by_another: bool = False) -> InvalidTransition:
    """The contract's one text for every payment that cannot be captured, with the case
    told apart in ``detail``: pending, failed, already captured, or (``paid_by_another``) a
    success whose order another payment paid."""
    if payment.state == "pending":
        detail: str | None = PENDING_CAPTURE
    elif payment.state == "failed":
        detail = FAILED_CAPTURE
    elif payment.captured:
        detail = ALREADY_CAPTURED
    else:
        detail = PAID_BY_ANOTHER if paid_by_another else None
    return InvalidTransition(NOT_CAPTURABLE, detail=detail)


def _not_refundable(payment: Any, kwargs: Mapping[str, Any]) -> InvalidTransition:
    detail = PENDING_REFUND if payment.state == "pending" else FAILED_REFUND
    return InvalidTransition(NOT_REFUNDABLE, detail=detail)


def has_refunds(payment: Any) -> bool:
    """Any refund processed or pending: money that capturing would take a second time."""
    return bool(payment.amount_refunded or payment.amount_refund_pending)


def _capturable(payment: Any, kwargs: Mapping[str, Any]) -> bool:
    return not payment.captured and not has_refunds(payment)


def _capture_refusal(payment: Any, kwargs: Mapping[str, Any]) -> str | InvalidTransition:
    return HAS_REFUNDS if not payment.captured else not_capturable(payment)


def _refund_fits(payment: Any, kwargs: Mapping[str, Any]) -> bool:
    # ``captured_only``: the Razorpay dialect refunds captured payments only, as Razorpay does.
    if kwargs.get("captured_only") and not payment.captured:
        return False
    return 0 < int(kwargs["amount"]) <= refundable_amount(payment)


def _refund_refusal(payment: Any, kwargs: Mapping[str, Any]) -> str | InvalidTransition:
    if kwargs.get("captured_only") and not payment.captured:
        return NOT_CAPTURED
    # The contract's text, with what is left to refund (in paise, and for people in rupees).
    rest = max(refundable_amount(payment), 0)
    return InvalidTransition(EXCEEDS_AVAILABLE, param="amount",
                             detail=f"Refund amount exceeds the refundable {rupees(rest)}",
                             extra={"refundable": rest})


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
    wrong_state={"capture": not_capturable, "reserve_refund": _not_refundable},
)
