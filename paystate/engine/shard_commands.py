"""What a shard does with each command: load the objects, ask the machines and the pure rules
of ``machines/``, and write the decision into the command's unit of work.

``ShardCommands.decide`` runs on the shard's thread, one command at a time, inside the shard's
batch; nothing here commits or publishes (the shard does, after the batch). Refusals are the
machines' and rules' own exceptions; where a refusal rested on a cached copy, the shard decides
the command again on the rows (``ShardRows.hints``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from ..machines.errors import InvalidTransition
from ..machines.models import Order, Payment, Refund
from ..machines.order import (
    ORDER,
    ORDER_ALREADY_PAID,
    accepts_payment,
    check_amount,
    check_attempts,
    on_bank_success,
    paid_by,
)
from ..machines.payment import PAYMENT, UNRESERVED_REFUND, check_capture_amount, not_capturable
from ..machines.refund import REFUND
from ..machines.spec import MachineSpec, build_machine
from . import commands as c
from .acquirer import PaymentModes
from .decisions import fire, record
from .errors import NotFound
from .ids import new_id
from .shard_rows import ShardRows
from .streams import StreamNames
from .unit_of_work import UnitOfWork

SPECS: dict[str, MachineSpec] = {"order": ORDER, "payment": PAYMENT, "refund": REFUND}
KIND_OF = {Order: "order", Payment: "payment", Refund: "refund"}
#: The ``data`` of an event about an object (the front's rendering, handed over by bootstrap);
#: None for objects whose changes send no event.
EventData = Callable[[Any], dict[str, Any] | None]


@dataclass(frozen=True)
class CommandRules:
    streams: StreamNames
    # Test mode or the acquirer: a payment's delay, and the test outcome it keeps.
    payment_modes: PaymentModes
    refund_delay_ms: tuple[int, int]
    event_data: EventData


def _iso(when: datetime | None) -> str:
    assert when is not None, "a pending object always has a due time"
    return when.isoformat()


class ShardCommands:
    def __init__(self, rules: CommandRules, rows: ShardRows, rng: random.Random) -> None:
        self._rules = rules
        self._rows = rows
        self._rng = rng
        self._uow: UnitOfWork | None = None
        # Public payments this attempt creates, per order, not yet committed (the cap).
        self._batch_payments: dict[str, int] = {}
        self._machines = {kind: build_machine(spec, self._before_state_change)
                          for kind, spec in SPECS.items()}

    def begin_attempt(self) -> None:
        self._batch_payments = {}

    def decide(self, command: c.Command, uow: UnitOfWork) -> Any:
        self._uow = uow
        try:
            handler: Callable[[Any, UnitOfWork], Any] = getattr(self, "_" + type(command).__name__)
            return handler(command, uow)
        finally:
            self._uow = None

    # -- firing, creating, emitting --------------------------------------------------------

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
        assert uow is not None, "triggers fire only inside a decision"
        kind = KIND_OF[type(event.model)]
        record(uow, kind, SPECS[kind], event)
        uow.touched.append(event.model)

    def _emit_event(self, uow: UnitOfWork, name: str, model: Any) -> None:
        body = self._rules.event_data(model)
        if body is None:
            return
        # The evt_ id names the event in its webhook bodies and in the events list; the
        # outbox row written here is the event's stored copy (migration 014).
        uow.emit(self._rules.streams.events, {
            "id": new_id("evt_"), "event": name, "timestamp": int(uow.at.timestamp()),
            "merchant_id": model.merchant_id, "livemode": model.livemode, "entity_id": model.id, "data": body,
        })

    def _create(self, uow: UnitOfWork, kind: str, obj: Any) -> None:
        uow.insert(kind, {f.name: getattr(obj, f.name) for f in fields(obj)})
        uow.record_transition(kind, obj.id, 1, None, obj.state, "create", {})
        uow.touched.append(obj)
        self._rows.remember(obj)
        for name in SPECS[kind].created_events:
            self._emit_event(uow, name, obj)

    def _due(self, delay_range_ms: tuple[int, int], uow: UnitOfWork) -> datetime:
        low, high = delay_range_ms
        return uow.at + timedelta(milliseconds=self._rng.randint(low, high))

    def _created_before(self, kind: str, object_id: str, merchant_id: str,
                        livemode: bool) -> Any:
        """For a create whose id an idempotency key chose: the object if an earlier attempt
        already created it, else None. Checked before any guard, because the object's own
        effects (a reserved refund amount, a paid order) would refuse it a second time."""
        try:
            obj = self._rows.get(kind, object_id)
        except NotFound:
            return None
        if obj.merchant_id != merchant_id or obj.livemode != livemode:
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

    # -- commands --------------------------------------------------------------------------

    def _CreateOrder(self, cmd: c.CreateOrder, uow: UnitOfWork) -> Order | c.Answered:
        if cmd.may_exist and (old := self._created_before("order", cmd.order_id,
                                                          cmd.merchant_id, cmd.livemode)):
            return old
        order = Order(id=cmd.order_id, merchant_id=cmd.merchant_id, amount=cmd.amount,
                      currency=cmd.currency, receipt=cmd.receipt, notes=dict(cmd.notes),
                      state=ORDER.initial, version=1, created_at=uow.at, updated_at=uow.at,
                      livemode=cmd.livemode)
        self._create(uow, "order", order)
        return self._answered(uow, cmd.answer, order)

    def _CreatePayment(self, cmd: c.CreatePayment, uow: UnitOfWork) -> Payment | c.Answered:
        order: Order = self._rows.get("order", cmd.order_id)
        if cmd.merchant_id is not None and (order.merchant_id != cmd.merchant_id or (
                cmd.livemode is not None and order.livemode != cmd.livemode)):
            raise NotFound("Order")
        check_amount(order, cmd.amount)
        if cmd.may_exist and (old := self._created_before("payment", cmd.payment_id,
                                                          order.merchant_id, order.livemode)):
            return old
        if not accepts_payment(order):
            raise InvalidTransition(ORDER_ALREADY_PAID, param="order_id")
        if cmd.max_attempts is not None:
            check_attempts(self._rows.public_payments_of(order.id)
                           + self._batch_payments.get(order.id, 0), cmd.max_attempts)
        # A cached order may be stale: the commit requires it still unpaid (without writing
        # it, so creates of one order in several processes never conflict). If the requirement
        # fails, the order is dropped with what the decision touched, so the retry reads it
        # and refuses ("Order is already paid") instead of conflicting again.
        uow.require("order", order.id, ORDER.initial)
        uow.touched.append(order)
        test_outcome, delay_ms = self._rules.payment_modes.at_creation(
            cmd.method, cmd.test_outcome, order.livemode, self._rng)
        payment = Payment(
            id=cmd.payment_id, order_id=order.id, merchant_id=order.merchant_id,
            amount=order.amount, currency=order.currency, method=cmd.method, vpa=cmd.vpa,
            card_network=cmd.card_network, card_last4=cmd.card_last4, state=PAYMENT.initial,
            captured=False, error_code=None, error_description=None, amount_refunded=0,
            amount_refund_pending=0,
            settle_due_at=uow.at + timedelta(milliseconds=delay_ms),
            version=1, created_at=uow.at, updated_at=uow.at, public=cmd.merchant_id is None,
            test_outcome=test_outcome, livemode=order.livemode)
        self._create(uow, "payment", payment)
        self._batch_payments[order.id] = self._batch_payments.get(order.id, 0) + payment.public
        uow.signal(self._rules.streams.payment_jobs, {
            "kind": "settle_payment", "order_id": order.id, "payment_id": payment.id,
            "method": payment.method, "test_outcome": payment.test_outcome,
            "due_at": _iso(payment.settle_due_at)})
        return self._answered(uow, cmd.answer, payment)

    def _SettlePayment(self, cmd: c.SettlePayment, uow: UnitOfWork) -> Payment:
        payment: Payment = self._rows.get("payment", cmd.payment_id)
        if payment.state != "pending":
            return payment  # settled already (a duplicate job, or another process won)
        if not cmd.success:
            # None: the machine's default, the bank's plain decline.
            self._fire(payment, "fail", error_code=cmd.error_code,
                       error_description=cmd.error_description)
            return payment
        # Decided with the order, in the same transaction. A cached order that another process
        # paid meanwhile fails the order's compare-and-set, and the retry reads the row.
        order: Order = self._rows.get("order", payment.order_id)
        for trigger in on_bank_success(order):
            if trigger == "mark_paid":
                self._fire(order, trigger, payment_id=payment.id)
            else:
                self._fire(payment, trigger)
        return payment

    def _CapturePayment(self, cmd: c.CapturePayment, uow: UnitOfWork) -> Payment:
        payment: Payment = self._rows.get("payment", cmd.payment_id)
        if payment.merchant_id != cmd.merchant_id or payment.livemode != cmd.livemode:
            raise NotFound("Payment")
        check_capture_amount(payment, cmd.amount)
        if not paid_by(self._rows.get("order", payment.order_id), payment.id):
            raise not_capturable(payment, paid_by_another=True)
        self._fire(payment, "capture", amount=payment.amount)
        return payment

    def _CreateRefund(self, cmd: c.CreateRefund, uow: UnitOfWork) -> Refund | c.Answered:
        if cmd.may_exist and (old := self._created_before("refund", cmd.refund_id,
                                                          cmd.merchant_id, cmd.livemode)):
            return old
        payment: Payment = self._rows.get("payment", cmd.payment_id)
        if payment.merchant_id != cmd.merchant_id or payment.livemode != cmd.livemode:
            raise NotFound("Payment")
        rule = {"captured_only": True} if cmd.captured_only else {}
        self._fire(payment, "reserve_refund", amount=cmd.amount, refund_id=cmd.refund_id, **rule)
        refund = Refund(id=cmd.refund_id, payment_id=payment.id, order_id=payment.order_id,
                        merchant_id=payment.merchant_id, amount=cmd.amount, reason=cmd.reason,
                        state=REFUND.initial,
                        settle_due_at=self._due(self._rules.refund_delay_ms, uow),
                        processed_at=None, version=1, created_at=uow.at, updated_at=uow.at,
                        livemode=payment.livemode)
        self._create(uow, "refund", refund)
        uow.signal(self._rules.streams.refund_jobs, {
            "kind": "settle_refund", "order_id": payment.order_id, "refund_id": refund.id,
            "due_at": _iso(refund.settle_due_at)})
        return self._answered(uow, cmd.answer, refund)

    def _SettleRefund(self, cmd: c.SettleRefund, uow: UnitOfWork) -> Refund:
        refund: Refund = self._rows.get("refund", cmd.refund_id)
        if refund.state != "pending":
            return refund
        payment: Payment = self._rows.get("payment", refund.payment_id)
        settle = "settle_refund" if cmd.success else "release_refund"
        try:
            self._fire(payment, settle, amount=refund.amount, refund_id=refund.id)
        except InvalidTransition:
            if self._rows.hints:
                raise  # decided again on the committed rows
            # The committed payment holds no reservation for this refund: retrying can never
            # settle it, so it is declined, with the reason in its transition.
            self._fire(refund, "fail", reason=UNRESERVED_REFUND)
            return refund
        if cmd.success:
            self._fire(refund, "process", at=uow.at)
        else:
            self._fire(refund, "fail")
        return refund
