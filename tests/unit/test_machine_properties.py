"""Properties of the machines under any sequence of triggers (hypothesis), in memory.

Each machine is built with ``spec.build_machine`` and driven through the same ``fire``/``record``
pair the shards and the webhook dispatcher use (a ``UnitOfWork`` collects what would be
written; nothing touches a database). Whatever the sequence and the arguments:

- a payment never has ``amount_refunded + amount_refund_pending`` above its amount, nor either
  below zero, and a captured payment is a successful one;
- final states are final: no trigger leaves them (a delivery's manual ``retry`` is the one
  documented way out of ``succeeded``/``failed``);
- a refused trigger changes nothing: the object is field-for-field what it was, and nothing
  was recorded;
- every accepted trigger records exactly one transition, whose seq is the new version.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from paystate.engine.decisions import fire, record
from paystate.engine.unit_of_work import UnitOfWork
from paystate.machines.errors import InvalidTransition
from paystate.machines.models import Order, Payment, Refund
from paystate.machines.order import ORDER
from paystate.machines.payment import PAYMENT
from paystate.machines.refund import REFUND
from paystate.machines.spec import MachineSpec, build_machine
from paystate.machines.webhook import TEST_SCHEDULE, WEBHOOK_DELIVERY, WebhookDelivery

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
AMOUNT = 10_000


class Driver:
    """One machine and the unit of work its hook writes into (what a shard holds)."""

    def __init__(self, spec: MachineSpec, kind: str) -> None:
        self.spec, self.kind = spec, kind
        self.uow = UnitOfWork(at=NOW)
        self.machine = build_machine(spec, lambda event: record(self.uow, kind, spec, event))

    def fire(self, model: Any, trigger: str, **kwargs: Any) -> bool:
        """Fire; on a refusal check that nothing moved. True if the trigger was taken."""
        before = copy.deepcopy(asdict(model))
        self.uow = UnitOfWork(at=NOW)
        try:
            fire(self.machine, self.spec, model, trigger, **kwargs)
        except InvalidTransition:
            assert asdict(model) == before, f"refused {trigger} changed {model}"
            assert not self.uow.updates and not self.uow.transitions
            return False
        (_kind, _id, seq, from_state, to_state, taken, _data), = self.uow.transitions
        assert (seq, from_state, to_state, taken) == (
            before["version"] + 1, before["state"], model.state, trigger)
        assert model.version == before["version"] + 1
        return True


def new_payment() -> Payment:
    return Payment(id="pay_p", order_id="order_o", merchant_id="m", amount=AMOUNT,
                   currency="INR", method="upi", vpa="a@b", card_network=None, card_last4=None,
                   state=PAYMENT.initial, captured=False, error_code=None,
                   error_description=None, amount_refunded=0, amount_refund_pending=0,
                   settle_due_at=None, version=1, created_at=NOW, updated_at=NOW)


amounts = st.one_of(st.integers(-AMOUNT, 2 * AMOUNT), st.sampled_from([0, 1, AMOUNT]))
payment_steps = st.lists(st.tuples(st.sampled_from(PAYMENT.triggers()), amounts), max_size=40)


@settings(max_examples=300, deadline=None)
@given(payment_steps)
def test_any_payment_trigger_sequence_keeps_refunds_within_the_amount(
        steps: list[tuple[str, int]]) -> None:
    """Arbitrary triggers with arbitrary amounts, including refund settlements the shard would
    never send: the guards alone keep the money straight."""
    driver = Driver(PAYMENT, "payment")
    p = new_payment()
    final_at: str | None = None
    for trigger, amount in steps:
        taken = driver.fire(p, trigger, amount=amount, refund_id="rfnd_r", payment_id="pay_q")
        assert 0 <= p.amount_refund_pending and 0 <= p.amount_refunded
        assert p.amount_refunded + p.amount_refund_pending <= p.amount
        assert not p.captured or p.state == "success"
        if final_at == "failed":
            assert not taken and p.state == "failed"
        if p.state in PAYMENT.final:
            final_at = final_at or p.state
        assert p.state == (final_at or "pending")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["reserve", "process", "fail"]),
                          st.integers(0, 12), amounts), max_size=40))
def test_refunds_driven_as_the_shard_does_add_up(steps: list[tuple[str, int, int]]) -> None:
    """Refund machines beside their payment, the way a shard pairs them: a refund's
    processing settles its amount on the payment, its failure releases it. The payment's
    counters always equal the sums over its refunds."""
    payments, refunds = Driver(PAYMENT, "payment"), Driver(REFUND, "refund")
    p = new_payment()
    assert payments.fire(p, "succeed")
    made: list[Refund] = []
    for step, pick, amount in steps:
        if step == "reserve":
            rid = f"rfnd_{len(made)}"
            if payments.fire(p, "reserve_refund", amount=amount, refund_id=rid):
                made.append(Refund(id=rid, payment_id=p.id, order_id=p.order_id,
                                   merchant_id="m", amount=amount, reason=None,
                                   state=REFUND.initial, settle_due_at=None, processed_at=None,
                                   version=1, created_at=NOW, updated_at=NOW))
        elif made:
            r = made[pick % len(made)]
            was = r.state
            if refunds.fire(r, "process" if step == "process" else "fail", at=NOW):
                follow = "settle_refund" if step == "process" else "release_refund"
                assert payments.fire(p, follow, amount=r.amount, refund_id=r.id)
            else:
                assert was in REFUND.final and r.state == was
        assert p.amount_refunded == sum(r.amount for r in made if r.state == "processed")
        assert p.amount_refund_pending == sum(r.amount for r in made if r.state == "pending")
        assert p.amount_refunded + p.amount_refund_pending <= p.amount


money_steps = st.lists(st.tuples(
    st.sampled_from(["capture", "reserve_refund", "settle_refund", "release_refund"]),
    amounts, st.booleans()), max_size=30)


@settings(max_examples=300, deadline=None)
@given(money_steps)
def test_no_sequence_captures_refunded_money(steps: list[tuple[str, int, bool]]) -> None:
    """Captures, refunds (under either front's rule) and their settlements in any order, on a
    successful payment: a capture is taken only while no refund is pending or processed, a
    captured-only refund only on a captured payment, and refunds never exceed the amount."""
    driver = Driver(PAYMENT, "payment")
    p = new_payment()
    assert driver.fire(p, "succeed")
    for trigger, amount, captured_only in steps:
        refunded_before = p.amount_refunded + p.amount_refund_pending
        captured_before = p.captured
        taken = driver.fire(p, trigger, amount=amount, refund_id="rfnd_r",
                            **({"captured_only": True} if captured_only else {}))
        if taken and trigger == "capture":
            assert refunded_before == 0 and not captured_before
        if taken and trigger == "reserve_refund" and captured_only:
            assert captured_before
        assert p.amount_refunded + p.amount_refund_pending <= p.amount


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ORDER.triggers()),
                          st.sampled_from(["pay_a", "pay_b"])), max_size=20))
def test_an_order_is_paid_once_and_stays_paid(steps: list[tuple[str, str]]) -> None:
    driver = Driver(ORDER, "order")
    order = Order(id="order_o", merchant_id="m", amount=AMOUNT, currency="INR", receipt=None,
                  notes={}, state=ORDER.initial, version=1, created_at=NOW, updated_at=NOW)
    paid_by: str | None = None
    for trigger, payment_id in steps:
        taken = driver.fire(order, trigger, payment_id=payment_id)
        if paid_by is not None:
            assert not taken and order.state == "paid" and order.paid_payment_id == paid_by
        elif trigger == "mark_paid":
            paid_by = payment_id
    assert (order.state == "paid") == (paid_by is not None)


def new_delivery() -> WebhookDelivery:
    return WebhookDelivery(id="d", merchant_id="m", event="payment.success", event_key="k",
                           payload="{}", state=WEBHOOK_DELIVERY.initial, attempts=0,
                           next_retry_at=NOW, last_attempt_at=None, response_code=None,
                           lease_owner="w", lease_token="t", lease_until=NOW, version=1,
                           created_at=NOW, updated_at=NOW)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WEBHOOK_DELIVERY.triggers()),
                          st.sampled_from([200, 204, 301, 500, 503])), max_size=40))
def test_a_delivery_follows_its_schedule_whatever_happens(steps: list[tuple[str, int]]) -> None:
    """Attempts never exceed the schedule; a delivery is final exactly when it has no due time;
    only a manual retry leaves a final state, and it starts the count again; a late attempt
    changes nothing of the delivery but its version."""
    driver = Driver(WEBHOOK_DELIVERY, "webhook_delivery")
    d = new_delivery()
    clock = NOW
    for trigger, code in steps:
        clock += timedelta(seconds=7)
        state, attempts, before = d.state, d.attempts, dict(vars(d))
        taken = driver.fire(d, trigger, at=clock, schedule=TEST_SCHEDULE, attempted_at=clock,
                            attempt=attempts + 1, response_code=code, by="merchant")
        assert 0 <= d.attempts <= len(TEST_SCHEDULE)
        assert (d.next_retry_at is None) == (d.state in WEBHOOK_DELIVERY.final)
        if trigger == "late_attempt":
            assert taken
            assert {k: v for k, v in vars(d).items() if k not in ("version", "updated_at")} == {
                k: v for k, v in before.items() if k not in ("version", "updated_at")}
            continue
        if state in WEBHOOK_DELIVERY.final and taken:
            assert trigger == "retry" and d.state == "pending" and d.attempts == 0
        if taken and trigger != "retry":
            assert d.attempts == attempts + 1 and d.lease_token is None
            assert d.last_attempt_at == clock
        if taken and trigger == "fail_attempt":
            assert d.next_retry_at == clock + timedelta(seconds=TEST_SCHEDULE[d.attempts])
        if trigger == "give_up" and taken:
            assert d.attempts == len(TEST_SCHEDULE)
