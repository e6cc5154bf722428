"""Shard actors: each owns the machines of the orders that hash to it, and their payments and
refunds, with its own PostgreSQL connection. This module is the actor's plumbing: the mailbox,
batches, the one commit per batch, conflict retries and publishing; what each command decides
is ``shard_commands.py``'s, what a shard reads ``shard_rows.py``'s.

A shard decides a batch, writes every decision in one transaction (rows with compare-and-set on
``version``, transition rows, outbox rows), answers after the commit and hands the outbox to
the publisher. If another process moved an object first, the commit raises ``Conflict``: the
shard drops its copies, reloads and decides again. A refusal that rested on a cached copy is
decided again on the rows once the batch committed. Every message is handled inside a try
block, so one bad message never stops the actor.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import pykka

from ..machines.errors import DomainError, ValidationError
from . import commands as c
from .acquirer import PaymentModes
from .clock import Clock
from .db import ActorConnection
from .errors import Conflict, KeyTaken, NotFound, Unavailable
from .mailbox import DRAIN, Envelope, Mailbox, reply
from .metrics import Metrics
from .outbox import Publisher
from .shard_commands import CommandRules, EventData, ShardCommands
from .shard_rows import ShardRows
from .streams import StreamNames
from .unit_of_work import UnitOfWork, commit_all

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 8


@dataclass(frozen=True)
class ShardConfig:
    database_url: str
    streams: StreamNames
    payment_modes: PaymentModes
    refund_delay_ms: tuple[int, int]
    # The ``data`` of webhook events: the native front's rendering of payments and refunds.
    event_data: EventData
    cache_size: int = 2_000  # objects, per shard
    batch_size: int = 64


class ShardActor(pykka.ThreadingActor):
    def __init__(self, index: int, config: ShardConfig, mailbox: Mailbox, publisher: Publisher,
                 clock: Clock, rng: random.Random, metrics: Metrics) -> None:
        super().__init__()
        self.index = index
        self._metrics = metrics
        self._config = config
        self._mailbox = mailbox
        self._publisher = publisher
        self._clock = clock
        self._db = ActorConnection(config.database_url)
        self._rows = ShardRows(config.cache_size, self._db.get)
        self._commands = ShardCommands(
            CommandRules(config.streams, config.payment_modes, config.refund_delay_ms,
                         config.event_data), self._rows, rng)

    # -- actor plumbing ------------------------------------------------------------------

    def on_start(self) -> None:
        self._db.get()

    def on_stop(self) -> None:
        # Whatever is still queued will not be decided by this actor: say so to the callers.
        while True:
            batch, more = self._mailbox.take(1000)
            for envelope in batch:
                reply(envelope, exc=Unavailable("the shard is stopping"))
            if not more:
                break
        self._db.reset()

    def on_receive(self, message: Any) -> Any:
        if message != DRAIN:
            return None
        batch, more = self._mailbox.take(self._config.batch_size)
        try:
            self._run_batch(batch)
        except BaseException as exc:
            log.exception("shard %d failed a batch", self.index)
            self._reset_connection()
            for envelope in batch:
                reply(envelope, exc=exc)
        if more:
            self.actor_ref.tell(DRAIN)
        return None

    def _reset_connection(self) -> None:
        self._rows.clear()
        self._db.reset()

    # -- decide, write, apply ------------------------------------------------------------

    def _run_batch(self, batch: list[Envelope]) -> None:
        """Decide a batch and commit it at once. If the commit lost a compare-and-set (another
        process moved an object) or PostgreSQL refused the batch, decide each of its commands
        again on its own: one contended object or one unstorable value must not fail the
        other callers of the batch."""
        try:
            again = self._attempt(batch)
        except psycopg.Error as exc:
            if len(batch) == 1:
                self._database_failure(batch[0], exc)
                return
            log.warning("shard %d: a batch of %d failed (%s); deciding each alone",
                        self.index, len(batch), exc)
            self._reset_connection()
            again = [e for e in batch if not e.reply.done()]
        for envelope in again:
            self._run_alone(envelope)

    def _run_alone(self, envelope: Envelope) -> None:
        for _attempt in range(MAX_CONFLICT_RETRIES):
            try:
                if not self._attempt([envelope]):
                    return
            except psycopg.Error as exc:
                self._database_failure(envelope, exc)
                return
        reply(envelope, exc=Conflict(
            f"gave up after {MAX_CONFLICT_RETRIES} conflicting attempts"))

    def _database_failure(self, envelope: Envelope, exc: psycopg.Error) -> None:
        if isinstance(exc, psycopg.errors.DataError):
            # A value PostgreSQL cannot store (SQLSTATE class 22): the request's fault.
            reply(envelope, exc=ValidationError("A value in the request cannot be stored"))
            return
        log.error("shard %d: %s failed in PostgreSQL: %s", self.index,
                  type(envelope.command).__name__, exc)
        self._reset_connection()
        reply(envelope, exc=exc)

    def _attempt(self, batch: list[Envelope]) -> list[Envelope]:
        """Decide every command of ``batch``, commit all decisions in one transaction and
        answer them; return the envelopes to decide again if the commit lost a
        compare-and-set. Whatever goes wrong, the in-memory changes of every decision that
        was not committed are dropped first."""
        decided: list[tuple[Envelope, Any, UnitOfWork]] = []
        # Refused on a cached copy: decided again on committed state after this commit.
        deferred: list[Envelope] = []
        self._rows.begin_attempt()
        self._commands.begin_attempt()
        try:
            self._prefetch(batch)
            for envelope in batch:
                uow = UnitOfWork(at=self._clock.now())
                self._rows.begin_decision()
                try:
                    result = self._commands.decide(envelope.command, uow)
                except psycopg.Error:
                    self._forget(uow)
                    raise
                except Exception as exc:  # refusals and bugs alike fail this command only
                    self._forget(uow)
                    if isinstance(exc, (DomainError, NotFound)) and self._rows.hints:
                        # A refusal is never decided on a copy another process may have
                        # moved: read what it rested on again, after this batch commits.
                        self._drop_hints(decided)
                        deferred.append(envelope)
                        continue
                    if not isinstance(exc, (DomainError, NotFound)):
                        log.exception("shard %d failed on %s", self.index,
                                      type(envelope.command).__name__)
                    reply(envelope, exc=exc)
                    continue
                decided.append((envelope, result, uow))
            started = time.perf_counter()
            commit_all(self._db.get(), [uow for _e, _r, uow in decided])
        except Conflict as exc:
            for _envelope, _result, uow in decided:
                self._forget(uow)
            if isinstance(exc, KeyTaken) and len(decided) == 1:
                # Deciding again cannot help: the key's row is there to stay.
                reply(decided[0][0], exc=exc)
                return deferred
            return [envelope for envelope, _r, _u in decided] + deferred
        except BaseException:
            for _envelope, _result, uow in decided:
                self._forget(uow)
            raise
        if decided:
            self._metrics.batch_commit.observe(time.perf_counter() - started)
            self._metrics.batch_size.observe(len(decided))
        for envelope, result, uow in decided:
            if uow.outbox:
                self._publisher.enqueue(uow.outbox)
            for kind, _id, _seq, from_state, to_state, _trigger, _data in uow.transitions:
                self._metrics.observe_transition(kind, from_state, to_state)
            reply(envelope, result)
        return deferred

    def _drop_hints(self, decided: list[tuple[Envelope, Any, UnitOfWork]]) -> None:
        """Drop the copies the refused decision read. Copies that an earlier decision of this
        batch changed stay until the commit (its compare-and-set checks them; dropping them
        now would let a later decision of the batch load a second copy of the same row)."""
        self._rows.drop_reads({obj.id for _e, _r, uow in decided for obj in uow.touched})

    def _forget(self, uow: UnitOfWork) -> None:
        self._rows.forget(uow.touched)

    # -- loading -------------------------------------------------------------------------

    def _prefetch(self, batch: list[Envelope]) -> None:
        """Load what a batch of settlements will read and the cache lacks, one query per
        table: a worker's shard meets most payments first when it settles them, and one
        query for the batch replaces two round trips per settlement."""
        payments = [e.command.payment_id for e in batch if isinstance(e.command, c.SettlePayment)]
        refunds = [e.command.refund_id for e in batch if isinstance(e.command, c.SettleRefund)]
        if len(payments) + len(refunds) < 2:
            return
        rows = self._rows
        rows.load_many("refund", refunds)
        rows.load_many("payment", payments + [r.payment_id for r in map(rows.peek, refunds)
                                              if r is not None])
        pending = (rows.peek(pid) for pid in payments)
        rows.load_many("order", [p.order_id for p in pending
                                 if p is not None and p.state == "pending"])
