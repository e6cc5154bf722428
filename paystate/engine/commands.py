"""Messages to the shard actors: frozen dataclasses, one per decision a shard can make.

Every command names the order it belongs to: an order, its payments and their refunds live in
one shard (``order_id`` -> shard), so one actor decides everything that touches them together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..machines.instruments import TEST_SUCCESS


@dataclass(frozen=True)
class KeyedAnswer:
    """An idempotency key to write as completed, with the answer to replay, in the very
    transaction that creates the object: a key and its object are then both committed or
    neither is, with no round trip of their own. ``render`` turns the created object into the
    response body (bytes; called on the shard's thread, so it must be pure); ``merchant_id``
    and ``scope`` name the key's namespace."""

    merchant_id: str
    scope: str
    key: str
    fingerprint: str
    status: int
    render: Callable[[Any], bytes]
    ttl: timedelta


@dataclass(frozen=True)
class Keyed:
    """The id an idempotency key chose for the object a create makes. ``may_exist``: an
    earlier attempt held the key and died, so the object may exist already (then it is
    returned instead of created). ``answer``: write the key with the create (see above)."""

    object_id: str
    may_exist: bool = False
    answer: KeyedAnswer | None = None


@dataclass(frozen=True)
class Answered:
    """What a create with a ``KeyedAnswer`` returns: the object and the answer stored with it."""

    created: Any
    status: int
    body: bytes


@dataclass(frozen=True)
class CreateOrder:
    order_id: str
    merchant_id: str
    amount: int
    currency: str
    receipt: str | None
    notes: dict[str, Any] = field(default_factory=dict)
    # The caller's mode (its key's): the order and everything made on it carry it.
    livemode: bool = False
    # The id was chosen by an idempotency key and an earlier attempt may have created the object:
    # return it instead of creating a second one (engine/idempotency.py).
    may_exist: bool = False
    # Write this idempotency key, answer included, in the create's own transaction.
    answer: KeyedAnswer | None = None


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
    answer: KeyedAnswer | None = None  # as in CreateOrder
    # Refuse the payment once the order has had this many (the public checkout's cap).
    max_attempts: int | None = None
    # The amount the caller stated, if any: it must be the order's (None: not stated).
    amount: int | None = None
    # What the instrument decides if the payment is processed in test mode
    # (``machines.instruments.instrument_outcome``); the number itself never travels.
    test_outcome: str = TEST_SUCCESS
    # The caller's mode: the order must be of it (the bridge always says which for a merchant's
    # call). None: not checked: the public checkout and engine-level callers take the order's.
    livemode: bool | None = None


@dataclass(frozen=True)
class SettlePayment:
    order_id: str
    payment_id: str
    success: bool
    # Why a payment that does not succeed fails (None: the bank's plain decline).
    error_code: str | None = None
    error_description: str | None = None


@dataclass(frozen=True)
class CapturePayment:
    order_id: str
    payment_id: str
    merchant_id: str
    amount: int | None = None
    livemode: bool = False  # the caller's: the payment must be of it


@dataclass(frozen=True)
class CreateRefund:
    order_id: str
    payment_id: str
    refund_id: str
    merchant_id: str
    amount: int
    reason: str | None = None
    # Refuse unless the payment is captured (the Razorpay dialect's rule).
    captured_only: bool = False
    livemode: bool = False  # the caller's: the payment must be of it
    may_exist: bool = False  # as in CreateOrder
    answer: KeyedAnswer | None = None  # as in CreateOrder


@dataclass(frozen=True)
class SettleRefund:
    order_id: str
    refund_id: str
    success: bool = True


Command = CreateOrder | CreatePayment | SettlePayment | CapturePayment | CreateRefund | SettleRefund
