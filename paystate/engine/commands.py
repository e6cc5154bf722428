"""Messages to the shard actors: frozen dataclasses, one per decision a shard can make.

Every command names the order it belongs to: an order, its payments and their refunds live in
one shard (``order_id`` -> shard), so one actor decides everything that touches them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CreateOrder:
    order_id: str
    merchant_id: str
    amount: int
    currency: str
    receipt: str | None
    notes: dict[str, Any] = field(default_factory=dict)
    # The id was chosen by an idempotency key and an earlier attempt may have created the object:
    # return it instead of creating a second one (engine/idempotency.py).
    may_exist: bool = False


@dataclass(frozen=True)
class CreatePayment:
    order_id: str
    payment_id: str
    # The caller's merchant: the order must be theirs. None: the public checkout (any order).
    merchant_id: str | None
    method: str
    vpa: str | None = None
    card_network: str | None = None
    card_last4: str | None = None
    may_exist: bool = False  # as in CreateOrder
    # Refuse the payment once the order has had this many (the public checkout's cap).
    max_attempts: int | None = None


@dataclass(frozen=True)
class SettlePayment:
    order_id: str
    payment_id: str
    success: bool


@dataclass(frozen=True)
class CapturePayment:
    order_id: str
    payment_id: str
    merchant_id: str
    amount: int | None = None


@dataclass(frozen=True)
class CreateRefund:
    order_id: str
    payment_id: str
    refund_id: str
    merchant_id: str
    amount: int
    reason: str | None = None
    may_exist: bool = False  # as in CreateOrder


@dataclass(frozen=True)
class SettleRefund:
    order_id: str
    refund_id: str
    success: bool = True


Command = CreateOrder | CreatePayment | SettlePayment | CapturePayment | CreateRefund | SettleRefund
