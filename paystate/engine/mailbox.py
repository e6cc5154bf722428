"""A shard's mailbox: envelopes (a command and the future its caller waits on), queued from
any thread and taken by the shard actor in batches."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from . import commands as c

#: The one Pykka message a shard receives: "take a batch from your mailbox".
DRAIN = "drain"


@dataclass(frozen=True)
class Envelope:
    command: c.Command
    reply: Future


class Mailbox:
    """A shard's queue of envelopes, filled from any thread, emptied in batches by the actor.

    The actor is told ``DRAIN`` only when the mailbox goes from idle to busy, so a burst of
    commands costs one Pykka message, and the actor takes up to a batch at a time: those
    decisions share one transaction and one commit (DESIGN: batching is the first lever).
    """

    def __init__(self) -> None:
        self._items: deque[Envelope] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, envelope: Envelope) -> bool:
        """Queue ``envelope``; True if the caller must wake the actor."""
        with self._lock:
            self._items.append(envelope)
            if self._scheduled:
                return False
            self._scheduled = True
            return True

    def take(self, limit: int) -> tuple[list[Envelope], bool]:
        """Up to ``limit`` envelopes, and whether more are waiting (the actor then wakes
        itself again, after any control message such as stop)."""
        with self._lock:
            batch = [self._items.popleft() for _ in range(min(limit, len(self._items)))]
            more = bool(self._items)
            self._scheduled = more
            return batch, more


def reply(envelope: Envelope, result: Any = None, exc: BaseException | None = None) -> None:
    """Complete the caller's future once (a later answer for the same envelope is dropped)."""
    if envelope.reply.done():
        return
    if exc is not None:
        envelope.reply.set_exception(exc)
    else:
        envelope.reply.set_result(result)
