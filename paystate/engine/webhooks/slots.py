"""Attempts in flight in this process, and each merchant's room.

A merchant may have at most ``per_merchant`` POSTs out from one process, so a hanging endpoint
holds back only its own deliveries. A due delivery that finds its merchant full is not dropped:
the merchant is marked as having a backlog, and the slot that frees next is refilled at once
with that merchant's next due delivery (``DispatcherActor._refill``). The sweeper is only the
safety net. Used on the dispatcher actor's thread only.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from .messages import JobRef


@dataclass
class InFlight:
    merchant_id: str
    token: str
    attempt: int
    started_at: datetime
    job: JobRef | None
    done: Future


class Slots:
    def __init__(self, per_merchant: int) -> None:
        self.per_merchant = per_merchant
        self._flights: dict[str, InFlight] = {}
        self._taken: dict[str, int] = {}
        # Merchants with due deliveries that waited for room.
        self._backlog: set[str] = set()

    def __len__(self) -> int:
        return len(self._flights)

    def room(self, merchant_id: str) -> int:
        return self.per_merchant - self._taken.get(merchant_id, 0)

    def full(self) -> list[str]:
        return [m for m, n in self._taken.items() if n >= self.per_merchant]

    def take(self, delivery_id: str, flight: InFlight) -> None:
        self._flights[delivery_id] = flight
        self._taken[flight.merchant_id] = self._taken.get(flight.merchant_id, 0) + 1

    def finish(self, delivery_id: str, token: str) -> InFlight | None:
        """The flight of this attempt, its slot freed; None if it is not (or no longer) ours."""
        flight = self._flights.get(delivery_id)
        if flight is None or flight.token != token:
            return None
        del self._flights[delivery_id]
        self._free(flight.merchant_id)
        return flight

    def forget_started_before(self, cutoff: datetime) -> list[str]:
        """Drop flights whose result never came (insurance: the sender reports every POST)."""
        lost = [d for d, f in self._flights.items() if f.started_at < cutoff]
        for delivery_id in lost:
            self._free(self._flights.pop(delivery_id).merchant_id)
        return lost

    def tokens(self) -> list[str]:
        return [f.token for f in self._flights.values()]

    def mark_backlog(self, merchant_id: str) -> None:
        self._backlog.add(merchant_id)

    def has_backlog(self, merchant_id: str) -> bool:
        return merchant_id in self._backlog

    def clear_backlog(self, merchant_id: str) -> None:
        self._backlog.discard(merchant_id)

    def _free(self, merchant_id: str) -> None:
        left = self._taken.get(merchant_id, 1) - 1
        if left > 0:
            self._taken[merchant_id] = left
        else:
            self._taken.pop(merchant_id, None)
