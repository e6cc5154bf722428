"""The in-memory objects the machines move: plain records with a ``state`` and a ``version``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(eq=False)
class Order:
    id: str
    merchant_id: str
    amount: int
    currency: str
    receipt: str | None
    notes: dict[str, Any]
    state: str
    version: int
    created_at: datetime
    updated_at: datetime
    paid_payment_id: str | None = None
    # The mode of the key that created it (test: false); its payments and refunds share it.
    livemode: bool = False

    @property
    def status(self) -> str:
        return self.state


@dataclass(eq=False)
class Payment:
    id: str
    order_id: str
    merchant_id: str
    amount: int
    currency: str
    method: str
    vpa: str | None
    card_network: str | None
    card_last4: str | None
    state: str
    captured: bool
    error_code: str | None
    error_description: str | None
    amount_refunded: int
    amount_refund_pending: int
    settle_due_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    # Made by the public checkout rather than the merchant's API (the public attempt cap
    # counts these only).
    public: bool = False
    # Test mode only: the outcome its instrument decided at creation ('success' or the error
    # code to fail with); None: the acquirer decides (migration 011).
    test_outcome: str | None = None
    livemode: bool = False  # its order's

    @property
    def status(self) -> str:
        return self.state


@dataclass(eq=False)
class Refund:
    id: str
    payment_id: str
    order_id: str
    merchant_id: str
    amount: int
    reason: str | None
    state: str
    settle_due_at: datetime | None
    processed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    livemode: bool = False  # its payment's

    @property
    def status(self) -> str:
        return self.state
