"""Due times without sleeping threads: a heap of (due_at, item) and one thread that hands each
item to a callback when the engine's clock passes its due time.

Tests that freeze the clock call ``run_due()`` after moving it instead of waiting.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .clock import Clock

log = logging.getLogger(__name__)


class DueQueue:
    def __init__(self, clock: Clock, on_due: Callable[[Any], None], name: str = "due-queue",
                 max_wait: float = 0.25) -> None:
        self._clock = clock
        self._on_due = on_due
        self._heap: list[tuple[datetime, int, Any]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._max_wait = max_wait
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def schedule(self, due_at: datetime, item: Any) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due_at, next(self._seq), item))
            self._cond.notify()

    def __len__(self) -> int:
        with self._cond:
            return len(self._heap)

    def run_due(self, now: datetime | None = None) -> int:
        """Hand every item due at ``now`` (default: the clock's now) to the callback."""
        now = now or self._clock.now()
        due = []
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
        for item in due:
            try:
                self._on_due(item)
            except Exception:
                log.exception("due item failed: %r", item)
        return len(due)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                wait = self._max_wait
                if self._heap:
                    until = (self._heap[0][0] - self._clock.now()).total_seconds()
                    wait = max(0.0, min(wait, until))
                if wait > 0:
                    self._cond.wait(wait)
                if self._stop:
                    return
            self.run_due()
