"""Attempts in flight in this process, and each lane's room.

A lane is a webhook endpoint (a delivery from before endpoints existed, with none, is its
merchant's lane). A lane may have at most ``per_lane`` POSTs out from one process, so a hanging
endpoint holds back only its own deliveries, not even the same merchant's other endpoints. A
due delivery that finds its lane full is not dropped: the lane is marked as having a backlog,
and the slot that frees next is refilled at once with that lane's next due delivery
(``DispatcherActor._refill``). The sweeper is only the safety net. Used on the dispatcher
actor's thread only.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from .messages import JobRef


@dataclass
class InFlight:
    lane: str
    token: str
    attempt: int
    started_at: datetime
    job: JobRef | None
    done: Future
    endpoint_id: str | None = None


class Slots:
    def __init__(self, per_lane: int) -> None:
        self.per_lane = per_lane
        self._flights: dict[str, InFlight] = {}
        self._taken: dict[str, int] = {}
        # Lanes with due deliveries that waited for room.
        self._backlog: set[str] = set()

    def __len__(self) -> int:
        return len(self._flights)

    def room(self, lane: str) -> int:
        return self.per_lane - self._taken.get(lane, 0)

    def full(self) -> list[str]:
        return [m for m, n in self._taken.items() if n >= self.per_lane]

    def take(self, delivery_id: str, flight: InFlight) -> None:
        self._flights[delivery_id] = flight
        self._taken[flight.lane] = self._taken.get(flight.lane, 0) + 1

    def finish(self, delivery_id: str, token: str) -> InFlight | None:
        """The flight of this attempt, its slot freed; None if it is not (or no longer) ours."""
        flight = self._flights.get(delivery_id)
        if flight is None or flight.token != token:
            return None
        del self._flights[delivery_id]
        self._free(flight.lane)
        return flight

    def forget_started_before(self, cutoff: datetime) -> list[str]:
        """Drop flights whose result never came (insurance: the sender reports every POST)."""
        lost = [d for d, f in self._flights.items() if f.started_at < cutoff]
        for delivery_id in lost:
            self._free(self._flights.pop(delivery_id).lane)
        return lost

    def tokens(self) -> list[str]:
        return [f.token for f in self._flights.values()]

    def mark_backlog(self, lane: str) -> None:
        self._backlog.add(lane)

    def has_backlog(self, lane: str) -> bool:
        return lane in self._backlog

    def clear_backlog(self, lane: str) -> None:
        self._backlog.discard(lane)

    def _free(self, lane: str) -> None:
        left = self._taken.get(lane, 1) - 1
        if left > 0:
            self._taken[lane] = left
        else:
            self._taken.pop(lane, None)
