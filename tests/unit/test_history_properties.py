"""Time travel is exact (hypothesis): for random histories of each machine, the object rebuilt
from its transition rows (``machines/history.state_as_of``) as of any instant is, field for
field, the object as it was recorded after the last transition at or before that instant.

Histories are made the way the engine makes them: random triggers with random arguments fired
through ``engine/decisions.fire`` and ``record`` (refusals skipped), each decision with a unit
of work of its own at strictly increasing times, each transition row's ``data`` taken through
JSON as PostgreSQL's jsonb column keeps it. Nothing touches a database.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from paystate.engine.decisions import fire, record
from paystate.engine.unit_of_work import UnitOfWork
from paystate.machines.errors import InvalidTransition
from paystate.machines.history import Step, creation_values, instants, state_as_of
from paystate.machines.models import Payment, Refund
from paystate.machines.payment import PAYMENT
from paystate.machines.refund import REFUND
from paystate.machines.spec import MachineSpec, build_machine
from paystate.machines.webhook import (
    PRODUCTION_SCHEDULE,
    TEST_SCHEDULE,
    WEBHOOK_DELIVERY,
    WebhookDelivery,
    next_attempt_at,
)

CREATED = datetime(2030, 1, 1, 9, tzinfo=UTC)
AMOUNT = 10_000
TICK = timedelta(microseconds=1)


class Recorder:
    """Fires triggers as a shard does and keeps what PostgreSQL would hold: the transition
    rows (``data`` through JSON) and, beside them, the object after each one."""

    def __init__(self, spec: MachineSpec, obj: Any) -> None:
        self.spec, self.obj = spec, obj
        self.uow = UnitOfWork(at=obj.created_at)
        self.machine = build_machine(spec, lambda event: record(self.uow, spec.name, spec,
                                                                event))
        self.steps = [Step(1, None, spec.initial, "create", {}, obj.created_at)]
        self.after = [copy.deepcopy(asdict(obj))]

    def fire(self, when: datetime, trigger: str, **kwargs: Any) -> None:
        """``trigger`` decided at ``when`` (its ``at`` argument, where it takes one)."""
        at = when
        self.uow = UnitOfWork(at=at)
        try:
            fire(self.machine, self.spec, self.obj, trigger, **kwargs)
        except InvalidTransition:
            return
        (_kind, _id, seq, from_state, to_state, taken, data), = self.uow.transitions
        stored = orjson.loads(orjson.dumps(data))
        self.steps.append(Step(seq, from_state, to_state, taken, stored, at))
        self.after.append(copy.deepcopy(asdict(self.obj)))

    def check(self) -> None:
        """As of each transition, just before the next and long after the last: the recorded
        object; before its creation: nothing."""
        now = asdict(self.obj)
        assert state_as_of(self.spec, now, self.steps, CREATED - TICK) is None
        for i, step in enumerate(self.steps):
            assert state_as_of(self.spec, now, self.steps, step.at) == self.after[i], step
            before_next = (self.steps[i + 1].at - TICK if i + 1 < len(self.steps)
                           else step.at + timedelta(days=3650))
            assert state_as_of(self.spec, now, self.steps, before_next) == self.after[i]
        assert instants(self.steps) == [s.at for s in self.steps]


gaps = st.integers(1, 10**10).map(lambda us: timedelta(microseconds=us))
amounts = st.one_of(st.integers(-AMOUNT, 2 * AMOUNT), st.sampled_from([1, AMOUNT // 4, AMOUNT]))
texts = st.one_of(st.none(), st.text(max_size=12))


def new_payment() -> Payment:
    return Payment(id="pay_p", order_id="order_o", merchant_id="m", amount=AMOUNT,
                   currency="INR", method="upi", vpa="a@b", card_network=None, card_last4=None,
                   **creation_values("payment", CREATED), settle_due_at=CREATED, version=1,
                   created_at=CREATED, updated_at=CREATED)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(gaps, st.sampled_from(PAYMENT.triggers()), amounts,
                          st.booleans(), texts, texts), max_size=30))
def test_a_payment_rebuilt_as_of_any_instant_is_the_payment_recorded_then(
        steps: list[tuple[timedelta, str, int, bool, str | None, str | None]]) -> None:
    rec = Recorder(PAYMENT, new_payment())
    at = CREATED
    for gap, trigger, amount, captured_only, code, description in steps:
        at += gap
        kwargs: dict[str, Any] = {"amount": amount, "refund_id": "rfnd_r"}
        if captured_only:
            kwargs["captured_only"] = True
        if trigger == "fail":
            kwargs = {"error_code": code, "error_description": description}
        rec.fire(at, trigger, **kwargs)
    rec.check()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(gaps, st.sampled_from(REFUND.triggers()), texts), max_size=6))
def test_a_refund_rebuilt_as_of_any_instant_is_the_refund_recorded_then(
        steps: list[tuple[timedelta, str, str | None]]) -> None:
    refund = Refund(id="rfnd_r", payment_id="pay_p", order_id="order_o", merchant_id="m",
                    amount=500, reason="damaged", settle_due_at=CREATED, version=1,
                    created_at=CREATED, updated_at=CREATED, **creation_values("refund", CREATED))
    rec = Recorder(REFUND, refund)
    at = CREATED
    for gap, trigger, reason in steps:
        at += gap
        rec.fire(at, trigger, **({"at": at} if trigger == "process" else {"reason": reason}))
    rec.check()


schedules = st.one_of(st.sampled_from([TEST_SCHEDULE, PRODUCTION_SCHEDULE]),
                      st.lists(st.integers(0, 10**6), max_size=6).map(lambda s: (0, *s)))
codes = st.one_of(st.none(), st.sampled_from([200, 204, 301, 404, 500, 503]))


@settings(max_examples=300, deadline=None)
@given(schedules, st.booleans(),
       st.lists(st.tuples(gaps, st.sampled_from(WEBHOOK_DELIVERY.triggers()), codes,
                          st.integers(0, 10**6), st.sampled_from(["merchant", "recover"])),
                max_size=30))
def test_a_delivery_rebuilt_as_of_any_instant_is_the_delivery_recorded_then(
        schedule: tuple[int, ...], leased: bool,
        steps: list[tuple[timedelta, str, int | None, int, str]]) -> None:
    # Created as the dispatcher creates one: leased to its process when it is sent at once.
    delivery = WebhookDelivery(
        id="d", merchant_id="m", event="payment.success", event_key="k", payload="{}",
        state="pending", attempts=0, next_retry_at=next_attempt_at(1, schedule, CREATED),
        last_attempt_at=None, response_code=None, lease_owner="w" if leased else None,
        lease_token="t" if leased else None, lease_until=CREATED if leased else None,
        version=1, created_at=CREATED, updated_at=CREATED)
    rec = Recorder(WEBHOOK_DELIVERY, delivery)
    at = CREATED
    for gap, trigger, code, took_us, by in steps:
        at += gap
        started = max(CREATED, at - timedelta(microseconds=took_us))
        kwargs: dict[str, Any] = {"at": at, "schedule": schedule}
        if trigger == "retry":
            kwargs["by"] = by
        else:
            # As the dispatcher records an attempt: what the machine reads, and the facts of
            # the attempt log, which it carries along and ignores.
            kwargs.update(attempted_at=started, attempt=delivery.attempts + 1,
                          response_code=code, error=None if code else "timed out",
                          duration_ms=took_us // 1000, response_body="ok" if code else None,
                          worker="w")
        rec.fire(at, trigger, **kwargs)
    # The lease is the claim's, not a transition's: a rebuild says no lease is held (a late
    # attempt leaves the lease to whoever holds it, so it may still be the creation's).
    for after in rec.after:
        after.update(lease_owner=None, lease_token=None, lease_until=None)
    rec.check()


def test_the_engines_webhook_rows_without_the_newer_arguments_still_rebuild() -> None:
    """Rows written before ``data`` kept ``schedule`` and ``attempted_at``: the configured
    schedule stands in, and the attempt's time is the transition's."""
    created = CREATED
    failed_at = created + timedelta(seconds=3)
    steps = [Step(1, None, "pending", "create", {"event": "payment.success"}, created),
             Step(2, "pending", "retrying", "fail_attempt", {"attempt": 1,
                                                             "response_code": 500}, failed_at)]
    fields = {"state": "retrying", "created_at": created, "attempts": 1}
    got = state_as_of(WEBHOOK_DELIVERY, fields, steps, failed_at,
                      defaults={"schedule": TEST_SCHEDULE})
    assert got is not None
    assert (got["attempts"], got["last_attempt_at"], got["response_code"],
            got["next_retry_at"]) == (1, failed_at, 500, failed_at + timedelta(seconds=5))
