"""Payment: pending -> success | failed; capture and refund bookkeeping on a successful payment.

Refunds are reserved on the payment itself (``amount_refund_pending``) under the payment's
compare-and-set, so concurrent refund requests in any number of processes cannot overdraw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import MachineSpec, TransitionSpec

DECLINED_CODE = "PAYMENT_FAILED"
DECLINED_DESCRIPTION = "Payment declined by bank"
NOT_CAPTURABLE = "Payment not in capturable state"
NOT_REFUNDABLE = "Payment not in refundable state"
EXCEEDS_AVAILABLE = "Refund amount exceeds available amount"
ORDER_ALREADY_PAID_CODE = "ORDER_ALREADY_PAID"
ORDER_ALREADY_PAID_DESCRIPTION = "Order was already paid by another payment"


def refundable_amount(payment: Any) -> int:
    return int(payment.amount - payment.amount_refunded - payment.amount_refund_pending)


def _not_captured(payment: Any, kwargs: Mapping[str, Any]) -> bool:
    return not payment.captured


def _refund_fits(payment: Any, kwargs: Mapping[str, Any]) -> bool:
    return 0 < int(kwargs["amount"]) <= refundable_amount(payment)


def _fail_effect(payment: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"error_code": DECLINED_CODE, "error_description": DECLINED_DESCRIPTION}


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
        TransitionSpec("capture", "success", "success", guard=_not_captured,
                       refusal=NOT_CAPTURABLE, effect=_capture_effect,
                       events=("payment.captured",)),
        TransitionSpec("reserve_refund", "success", "success", guard=_refund_fits,
                       refusal=EXCEEDS_AVAILABLE, effect=_reserve_effect),
        TransitionSpec("settle_refund", "success", "success", effect=_settle_refund_effect),
        TransitionSpec("release_refund", "success", "success", effect=_release_refund_effect),
    ),
    wrong_state={"capture": NOT_CAPTURABLE, "reserve_refund": NOT_REFUNDABLE},
)
