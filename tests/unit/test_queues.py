"""next_batch: what the outbox publisher and the settlement acker take from their queues."""

from __future__ import annotations

import queue

from paystate.engine.queues import next_batch


def test_takes_what_is_queued_up_to_the_limit_and_stops_at_none() -> None:
    q: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    for i in range(5):
        q.put(i)
    assert next_batch(q, 3) == ([0, 1, 2], False)
    q.put(None)
    q.put(9)
    assert next_batch(q, 10) == ([3, 4], True)
    assert next_batch(q, 10) == ([9], False)
    q.put(None)
    assert next_batch(q, 10) == ([], True)
