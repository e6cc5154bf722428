"""A shard's mailbox: envelopes (a command and the future its caller waits on), queued from
any thread and taken by the shard actor in batches."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from . import commands as c

#: The one Pykka message a shard receives: "take a batch from your mailbox".
DRAIN = "drain"


class Reply(Protocol):
    """Where a shard's answer goes: a ``concurrent.futures.Future`` (a thread waits on it) or
    a ``LoopReply`` (a coroutine awaits it)."""

    def done(self) -> bool: ...
    def set_result(self, result: Any) -> None: ...
    def set_exception(self, exception: BaseException) -> None: ...


class LoopReply:
    """Completes an asyncio future of ``loop`` from the shard's thread, with one
    ``call_soon_threadsafe``. What a request awaits: a ``concurrent.futures.Future`` (a lock
    and a condition each) chained to an asyncio future by ``wrap_future`` cost the event
    loop's thread twice the work for the same answer."""

    __slots__ = ("_done", "_loop", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self._done = False  # only the shard's thread completes it

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Any) -> None:
        self._hand_over(result, None)

    def set_exception(self, exception: BaseException) -> None:
        self._hand_over(None, exception)

    def _hand_over(self, result: Any, exc: BaseException | None) -> None:
        self._done = True
        try:
            self._loop.call_soon_threadsafe(_complete, self.future, result, exc)
        except RuntimeError:
            pass  # the loop is closed: nobody awaits this answer any more


def _complete(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return  # the awaiting request was cancelled (its client went away)
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


@dataclass(frozen=True)
class Envelope:
    command: c.Command
    reply: Reply


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
