"""Handing work to a thread in batches: what the publisher and the settlement acker share."""

from __future__ import annotations

import queue
from typing import TypeVar

T = TypeVar("T")


def next_batch(q: queue.SimpleQueue[T | None], limit: int) -> tuple[list[T], bool]:
    """Wait for one item, then take whatever else is queued, up to ``limit`` items. ``None``
    in the queue means stop: returns the items before it and True (stopping)."""
    first = q.get()
    if first is None:
        return [], True
    items = [first]
    while len(items) < limit:
        try:
            nxt = q.get_nowait()
        except queue.Empty:
            break
        if nxt is None:
            return items, True
        items.append(nxt)
    return items, False
