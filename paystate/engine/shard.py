"""Shard actors: each owns the machines of the orders that hash to it, and their payments and
refunds, with its own PostgreSQL connection.

A shard decides with the ``transitions`` machines, writes the decision in one transaction (rows
with compare-and-set on ``version``, transition rows, outbox rows), applies it in memory only as
part of that decision, and publishes the outbox after commit. If another process moved an object
first, the commit raises ``Conflict``: the shard drops its cached copies, reloads and decides
again. Every message is handled inside a try block, so one bad message never stops the actor.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pykka

from ..machines.errors import AttemptsExhausted, DomainError, InvalidTransition, ValidationError
from ..machines.models import Order, Payment, Refund
from ..machines.order import ORDER, ORDER_ALREADY_PAID, accepts_payment
from ..machines.payment import NOT_CAPTURABLE, PAYMENT
from ..machines.refund import REFUND
from ..machines.spec import MachineSpec, build_machine
from . import commands as c
from .clock import Clock
from .db import ActorConnection
from .decisions import fire, record
from .errors import Conflict, KeyTaken, NotFound, Unavailable
from .mailbox import DRAIN, Envelope, Mailbox, reply
from .metrics import Metrics
from .outbox import Publisher
from .records import order_from_row, payment_from_row, payment_json, refund_from_row, refund_json
from .streams import StreamNames
from .unit_of_work import UnitOfWork, commit_all

log = logging.getLogger(__name__)

SPECS: dict[str, MachineSpec] = {"order": ORDER, "payment": PAYMENT, "refund": REFUND}
KIND_OF = {Order: "order", Payment: "payment", Refund: "refund"}
LOADERS: dict[str, tuple[str, Callable[[dict[str, Any]], Any], str]] = {
    "order": ("orders", order_from_row, "Order"),
    "payment": ("payments", payment_from_row, "Payment"),
    "refund": ("refunds", refund_from_row, "Refund"),
}
MAX_CONFLICT_RETRIES = 8


@dataclass(frozen=True)
class ShardConfig:
    database_url: str
    streams: StreamNames
    settle_delay_ms: tuple[int, int]
    refund_delay_ms: tuple[int, int]
    cache_size: int = 20_000
    batch_size: int = 64


def _iso(when: datetime | None) -> str:
    assert when is not None, "a pending object always has a due time"
    return when.isoformat()


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
        self._rng = rng
        self._db = ActorConnection(config.database_url)
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._uow: UnitOfWork | None = None
        self._batch_payments: dict[str, int] = {}
        self._machines = {kind: build_machine(spec, self._before_state_change)
                          for kind, spec in SPECS.items()}

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
        self._cache.clear()
        self._db.reset()

    @property
    def conn(self) -> psycopg.Connection[Any]:
        # Autocommit: a batch opens its own transaction; loads outside one need none.
        return self._db.get()

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
        # Payments this attempt creates, per order, not yet committed (the attempt cap).
        self._batch_payments = {}
        try:
            self._prefetch(batch)
            for envelope in batch:
                uow = UnitOfWork(at=self._clock.now())
                self._uow = uow
                try:
                    result = self._decide(envelope.command, uow)
                except psycopg.Error:
                    self._forget(uow)
                    raise
                except Exception as exc:  # refusals and bugs alike fail this command only
                    self._forget(uow)
                    if not isinstance(exc, (DomainError, NotFound)):
                        log.exception("shard %d failed on %s", self.index,
                                      type(envelope.command).__name__)
                    reply(envelope, exc=exc)
                    continue
                finally:
                    self._uow = None
                decided.append((envelope, result, uow))
            started = time.perf_counter()
            commit_all(self.conn, [uow for _e, _r, uow in decided])
        except Conflict as exc:
            for _envelope, _result, uow in decided:
                self._forget(uow)
            if isinstance(exc, KeyTaken) and len(decided) == 1:
                # Deciding again cannot help: the key's row is there to stay.
                reply(decided[0][0], exc=exc)
                return []
            return [envelope for envelope, _r, _u in decided]
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
        return []

    def _decide(self, command: c.Command, uow: UnitOfWork) -> Any:
        handler: Callable[[Any, UnitOfWork], Any] = getattr(self, "_" + type(command).__name__)
        return handler(command, uow)

    def _forget(self, uow: UnitOfWork) -> None:
        for obj in uow.touched:
            self._cache.pop(obj.id, None)

    def _fire(self, model: Any, trigger: str, **kwargs: Any) -> None:
        """Decide ``trigger`` on ``model`` inside the current unit of work, then record the
        events the transition emits, carrying the object as it is after it."""
        kind = KIND_OF[type(model)]
        taken = fire(self._machines[kind], SPECS[kind], model, trigger, **kwargs)
        assert self._uow is not None
        for name in taken.events:
            self._emit_event(self._uow, name, model)

    def _before_state_change(self, event: Any) -> None:
        uow = self._uow
        assert uow is not None, "triggers fire only inside a batch"
        kind = KIND_OF[type(event.model)]
        record(uow, kind, SPECS[kind], event)
        uow.touched.append(event.model)

    def _emit_event(self, uow: UnitOfWork, name: str, model: Any) -> None:
        if isinstance(model, Payment):
            body = {"payment": payment_json(model)}
        elif isinstance(model, Refund):
            body = {"refund": refund_json(model)}
        else:
            return
        uow.emit(self._config.streams.events, {
            "event": name, "timestamp": int(uow.at.timestamp()), "merchant_id": model.merchant_id,
            "entity_id": model.id, "data": body,
        })

    # -- loading -------------------------------------------------------------------------

    def _cached(self, key: str, loader: Callable[[], Any]) -> Any:
        obj = self._cache.get(key)
        if obj is None:
            obj = loader()
            if obj is None:
                return None
            self._remember(key, obj)
        else:
            self._cache.move_to_end(key)
        return obj

    def _prefetch(self, batch: list[Envelope]) -> None:
        """Load what a batch of settlements will read and the cache lacks, one query per
        table: a worker's shard meets most payments first when it settles them, and one
        query for the batch replaces two round trips per settlement."""
        payments = [e.command.payment_id for e in batch if isinstance(e.command, c.SettlePayment)]
        refunds = [e.command.refund_id for e in batch if isinstance(e.command, c.SettleRefund)]
        if len(payments) + len(refunds) < 2:
            return
        self._load_many("refund", refunds)
        self._load_many("payment", payments + [r.payment_id for r in map(self._cache.get, refunds)
                                               if r is not None])
        pending = (self._cache.get(pid) for pid in payments)
        self._load_many("order", [p.order_id for p in pending
                                  if p is not None and p.state == "pending"])

    def _load_many(self, kind: str, ids: list[str]) -> None:
        missing = list({i for i in ids if i not in self._cache})
        if not missing:
            return
        table, from_row, _name = LOADERS[kind]
        for row in self.conn.execute(f"SELECT * FROM {table} WHERE id = ANY(%s)",
                                     (missing,)).fetchall():
            self._remember(row["id"], from_row(row))

    def _remember(self, key: str, obj: Any) -> None:
        """Cache ``obj`` as the most recently used, evicting the least recently used past the
        cache's size."""
        self._cache[key] = obj
        if len(self._cache) > self._config.cache_size:
            self._cache.popitem(last=False)

    def _get(self, kind: str, object_id: str) -> Any:
        """The cached object, or the row loaded from PostgreSQL; ``NotFound`` if neither."""
        table, from_row, name = LOADERS[kind]

        def load() -> Any:
            row = self.conn.execute(f"SELECT * FROM {table} WHERE id = %s",
                                    (object_id,)).fetchone()
            return from_row(row) if row else None
        obj = self._cached(object_id, load)
        if obj is None:
            raise NotFound(name)
        return obj

    def _order(self, order_id: str) -> Order:
        return self._get("order", order_id)

    def _payment(self, payment_id: str) -> Payment:
        return self._get("payment", payment_id)

    def _refund(self, refund_id: str) -> Refund:
        return self._get("refund", refund_id)

    def _payments_of(self, order_id: str) -> int:
        """Payments the public checkout made on the order so far, in any process (the public
        attempt cap: a cap, so two processes counting at once may let one more through)."""
        row = self.conn.execute("SELECT count(*) AS n FROM payments WHERE order_id = %s"
                                " AND public", (order_id,)).fetchone()
        return int(row["n"]) if row else 0

    def _created_before(self, load: Callable[[str], Any], object_id: str,
                        merchant_id: str) -> Any:
        """For a create whose id an idempotency key chose: the object if an earlier attempt
        already created it, else None. Checked before any guard, because the object's own
        effects (a reserved refund amount, a paid order) would refuse it a second time."""
        try:
            obj = load(object_id)
        except NotFound:
            return None
        if obj.merchant_id != merchant_id:
            raise NotFound(type(obj).__name__)
        return obj

    def _answered(self, uow: UnitOfWork, answer: c.KeyedAnswer | None, obj: Any) -> Any:
        """``obj``, just created; with an idempotency key to write, also the key's row (the
        answer rendered now, as the object is at its creation) and ``Answered``."""
        if answer is None:
            return obj
        body = answer.render(obj)
        uow.insert("idempotency_key", {
            "merchant_id": answer.merchant_id, "scope": answer.scope, "key": answer.key,
            "fingerprint": answer.fingerprint, "status": "completed", "resource_id": obj.id,
            "response_code": answer.status, "response_body": body, "created_at": uow.at,
            "expires_at": uow.at + answer.ttl})
        return c.Answered(obj, answer.status, body)

    def _create(self, uow: UnitOfWork, kind: str, obj: Any) -> None:
        columns = {f.name: getattr(obj, f.name) for f in fields(obj)}
        uow.insert(kind, columns)
        uow.record_transition(kind, obj.id, 1, None, obj.state, "create", {})
        uow.touched.append(obj)
        for name in SPECS[kind].created_events:
            self._emit_event(uow, name, obj)

    def _due(self, delay_range_ms: tuple[int, int], uow: UnitOfWork) -> Any:
        low, high = delay_range_ms
        return uow.at + timedelta(milliseconds=self._rng.randint(low, high))

    # -- commands ------------------------------------------------------------------------

    def _CreateOrder(self, cmd: c.CreateOrder, uow: UnitOfWork) -> Order | c.Answered:
        if cmd.may_exist and (old := self._created_before(self._order, cmd.order_id,
                                                          cmd.merchant_id)):
            return old
        order = Order(id=cmd.order_id, merchant_id=cmd.merchant_id, amount=cmd.amount,
                      currency=cmd.currency, receipt=cmd.receipt, notes=dict(cmd.notes),
                      state=ORDER.initial, version=1, created_at=uow.at, updated_at=uow.at)
        self._create(uow, "order", order)
        self._cache[order.id] = order
        return self._answered(uow, cmd.answer, order)

    def _CreatePayment(self, cmd: c.CreatePayment, uow: UnitOfWork) -> Payment | c.Answered:
        order = self._order(cmd.order_id)
        if cmd.merchant_id is not None and order.merchant_id != cmd.merchant_id:
            raise NotFound("Order")
        if cmd.may_exist and (old := self._created_before(self._payment, cmd.payment_id,
                                                          order.merchant_id)):
            return old
        if not accepts_payment(order):
            raise InvalidTransition(ORDER_ALREADY_PAID)
        if cmd.max_attempts is not None:
            made = self._payments_of(order.id) + self._batch_payments.get(order.id, 0)
            if made >= cmd.max_attempts:
                raise AttemptsExhausted("This order has had the most payment attempts allowed")
        # A cached order may be stale: the commit requires it still unpaid (without writing
        # it, so creates of one order in several processes never conflict).
        uow.require("order", order.id, ORDER.initial)
        # If the requirement fails, the cached order is stale: drop it, so that the retry
        # reloads it and refuses ("Order is already paid") instead of conflicting again.
        uow.touched.append(order)
        payment = Payment(
            id=cmd.payment_id, order_id=order.id, merchant_id=order.merchant_id,
            amount=order.amount, currency=order.currency, method=cmd.method, vpa=cmd.vpa,
            card_network=cmd.card_network, card_last4=cmd.card_last4, state=PAYMENT.initial,
            captured=False, error_code=None, error_description=None, amount_refunded=0,
            amount_refund_pending=0, settle_due_at=self._due(self._config.settle_delay_ms, uow),
            version=1, created_at=uow.at, updated_at=uow.at, public=cmd.merchant_id is None)
        self._create(uow, "payment", payment)
        self._batch_payments[order.id] = self._batch_payments.get(order.id, 0) + payment.public
        uow.emit(self._config.streams.payment_jobs, {
            "kind": "settle_payment", "order_id": order.id, "payment_id": payment.id,
            "method": payment.method, "due_at": _iso(payment.settle_due_at)})
        self._cache[payment.id] = payment
        return self._answered(uow, cmd.answer, payment)

    def _SettlePayment(self, cmd: c.SettlePayment, uow: UnitOfWork) -> Payment:
        payment = self._payment(cmd.payment_id)
        if payment.state != "pending":
            return payment  # settled already (a duplicate job, or another process won)
        if not cmd.success:
            self._fire(payment, "fail")
            return payment
        # Decided with the order, in the same transaction: the first success pays the order and
        # any later one is declined. A cached order that another process paid meanwhile fails
        # the order's compare-and-set, and the retry decides again from the fresh row.
        order = self._order(payment.order_id)
        if order.state == "created":
            self._fire(payment, "succeed")
            self._fire(order, "mark_paid", payment_id=payment.id)
        else:
            self._fire(payment, "decline_paid_order")
        return payment

    def _CapturePayment(self, cmd: c.CapturePayment, uow: UnitOfWork) -> Payment:
        payment = self._payment(cmd.payment_id)
        if payment.merchant_id != cmd.merchant_id:
            raise NotFound("Payment")
        if cmd.amount is not None and cmd.amount != payment.amount:
            raise InvalidTransition("Capture amount must equal the payment amount")
        order = self._order(payment.order_id)
        if order.paid_payment_id not in (None, payment.id):
            # Only the payment that paid its order is ever captured (orders paid twice before
            # the one-success rule existed keep their second payment uncapturable).
            raise InvalidTransition(NOT_CAPTURABLE)
        self._fire(payment, "capture", amount=payment.amount)
        return payment

    def _CreateRefund(self, cmd: c.CreateRefund, uow: UnitOfWork) -> Refund | c.Answered:
        if cmd.may_exist and (old := self._created_before(self._refund, cmd.refund_id,
                                                          cmd.merchant_id)):
            return old
        payment = self._payment(cmd.payment_id)
        if payment.merchant_id != cmd.merchant_id:
            raise NotFound("Payment")
        self._fire(payment, "reserve_refund", amount=cmd.amount, refund_id=cmd.refund_id)
        refund = Refund(id=cmd.refund_id, payment_id=payment.id, order_id=payment.order_id,
                        merchant_id=payment.merchant_id, amount=cmd.amount, reason=cmd.reason,
                        state=REFUND.initial,
                        settle_due_at=self._due(self._config.refund_delay_ms, uow),
                        processed_at=None, version=1, created_at=uow.at, updated_at=uow.at)
        self._create(uow, "refund", refund)
        uow.emit(self._config.streams.refund_jobs, {
            "kind": "settle_refund", "order_id": payment.order_id, "refund_id": refund.id,
            "due_at": _iso(refund.settle_due_at)})
        self._cache[refund.id] = refund
        return self._answered(uow, cmd.answer, refund)

    def _SettleRefund(self, cmd: c.SettleRefund, uow: UnitOfWork) -> Refund:
        refund = self._refund(cmd.refund_id)
        if refund.state != "pending":
            return refund
        payment = self._payment(refund.payment_id)
        if cmd.success:
            self._fire(refund, "process", at=uow.at)
            self._fire(payment, "settle_refund", amount=refund.amount, refund_id=refund.id)
        else:
            self._fire(refund, "fail")
            self._fire(payment, "release_refund", amount=refund.amount, refund_id=refund.id)
        return refund
