"""A fixed set of shard actors and the routing of commands to them by order id."""

from __future__ import annotations

import asyncio
import logging
import random
import zlib
from concurrent.futures import Future
from typing import Any

import pykka

from . import commands as c
from .clock import Clock
from .mailbox import DRAIN, Envelope, LoopReply, Mailbox
from .metrics import Metrics
from .outbox import Publisher
from .shard import ShardActor, ShardConfig

log = logging.getLogger(__name__)


def shard_index(order_id: str, count: int) -> int:
    # crc32, not hash(): the same order must land on the same shard in every process.
    return zlib.crc32(order_id.encode()) % count


class ShardRouter:
    """Owns the shard actors. ``submit`` is thread-safe and never blocks."""

    def __init__(self, count: int, config: ShardConfig, publisher: Publisher, clock: Clock,
                 rng: random.Random, metrics: Metrics) -> None:
        self._count = count
        self._config = config
        self._publisher = publisher
        self._metrics = metrics
        self._clock = clock
        self._rng = rng
        self._refs: list[pykka.ActorRef[Any]] = []
        self._mailboxes = [Mailbox() for _ in range(count)]

    def start(self) -> None:
        self._refs = [ShardActor.start(i, self._config, self._mailboxes[i], self._publisher,
                                       self._clock, self._rng, self._metrics)
                      for i in range(self._count)]

    def stop(self) -> None:
        for ref in self._refs:
            ref.stop(block=False)
        for ref in self._refs:
            if not ref.actor_stopped.wait(5):
                log.warning("a shard actor did not stop within 5 s")
        self._refs = []

    def submit(self, command: c.Command) -> Future:
        """Send ``command`` to its shard; a thread waits on the returned future."""
        future: Future = Future()
        self._send(Envelope(command, future))
        return future

    def submit_async(self, command: c.Command) -> asyncio.Future[Any]:
        """Send ``command`` to its shard; the running event loop's coroutine awaits the
        returned future."""
        reply = LoopReply(asyncio.get_running_loop())
        self._send(Envelope(command, reply))
        return reply.future

    def _send(self, envelope: Envelope) -> None:
        index = shard_index(envelope.command.order_id, self._count)
        if self._mailboxes[index].put(envelope):
            self._refs[index].tell(DRAIN)

    @property
    def alive(self) -> bool:
        return bool(self._refs) and all(ref.is_alive() for ref in self._refs)
