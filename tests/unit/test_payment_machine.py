"""The payment, order and refund machines as data, driven through the transitions library."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from transitions import MachineError

from paystate.dashboard.diagram import Edge, graph_of, mermaid
from paystate.engine.decisions import fire
from paystate.machines.errors import InvalidTransition, ValidationError
from paystate.machines.models import Payment
from paystate.machines.order import ORDER, check_amount
from paystate.machines.payment import (
    HAS_REFUNDS,
    NOT_CAPTURABLE,
    NOT_CAPTURED,
    PAYMENT,
    refundable_amount,
)
from paystate.machines.refund import REFUND
from paystate.machines.spec import build_machine

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def payment(state: str = "pending", **kw: Any) -> Payment:
    base: dict[str, Any] = {
        "id": "pay_x", "order_id": "order_x", "merchant_id": "m", "amount": 10000,
        "currency": "INR", "method": "upi", "vpa": "a@b", "card_network": None,
        "card_last4": None, "state": state, "captured": False, "error_code": None,
        "error_description": None, "amount_refunded": 0, "amount_refund_pending": 0,
        "settle_due_at": None, "version": 1, "created_at": NOW, "updated_at": NOW}
    return Payment(**{**base, **kw})


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, event: Any) -> None:
        self.seen.append((event.transition.source, event.transition.dest, event.event.name))


def test_pending_settles_once() -> None:
    rec = Recorder()
    machine = build_machine(PAYMENT, rec)
    p = payment()
    assert machine.events["succeed"].trigger(p)
    assert p.state == "success"
    with pytest.raises(MachineError):
        machine.events["fail"].trigger(p)
    assert rec.seen == [("pending", "success", "succeed")]


def test_no_auto_transitions_back_door() -> None:
    machine = build_machine(PAYMENT, Recorder())
    assert "to_success" not in machine.events
    assert not hasattr(payment(), "to_success")


def test_refund_guard_counts_pending_and_processed_refunds() -> None:
    machine = build_machine(PAYMENT, Recorder())
    p = payment("success", amount_refunded=3000, amount_refund_pending=4000)
    assert refundable_amount(p) == 3000
    assert not machine.events["reserve_refund"].trigger(p, amount=3001)
    assert machine.events["reserve_refund"].trigger(p, amount=3000)
    with pytest.raises(MachineError):
        machine.events["reserve_refund"].trigger(payment("pending"), amount=1)


def test_capture_guard() -> None:
    machine = build_machine(PAYMENT, Recorder())
    assert not machine.events["capture"].trigger(payment("success", captured=True))
    with pytest.raises(MachineError):
        machine.events["capture"].trigger(payment("failed"))


@pytest.mark.parametrize("refunds", [{"amount_refunded": 10000}, {"amount_refund_pending": 1},
                                     {"amount_refunded": 500, "amount_refund_pending": 500}])
def test_a_payment_with_any_refund_is_never_captured(refunds: dict[str, int]) -> None:
    """Capturing money already refunded (or being refunded) would take it twice."""
    p = payment("success", **refunds)
    with pytest.raises(InvalidTransition, match=HAS_REFUNDS):
        fire(build_machine(PAYMENT, Recorder()), PAYMENT, p, "capture", amount=p.amount)
    assert not p.captured


def test_capture_refusals_say_why() -> None:
    machine = build_machine(PAYMENT, Recorder())
    for p in (payment("success", captured=True), payment("pending")):
        with pytest.raises(InvalidTransition, match=NOT_CAPTURABLE):
            fire(machine, PAYMENT, p, "capture", amount=p.amount)


def test_captured_only_refunds_need_a_captured_payment() -> None:
    machine = build_machine(PAYMENT, Recorder())
    with pytest.raises(InvalidTransition, match=NOT_CAPTURED):
        fire(machine, PAYMENT, payment("success"), "reserve_refund", amount=100,
             refund_id="r", captured_only=True)
    taken = fire(machine, PAYMENT, payment("success", captured=True), "reserve_refund",
                 amount=100, refund_id="r", captured_only=True)
    assert taken.trigger == "reserve_refund"
    # The native API's rule: refunds of successful payments, captured or not.
    taken = fire(machine, PAYMENT, payment("success"), "reserve_refund", amount=100,
                 refund_id="r")
    assert taken.trigger == "reserve_refund"


def test_diagrams_come_from_the_machines_transitions_builds() -> None:
    for spec in (PAYMENT, ORDER, REFUND):
        text = mermaid(graph_of(spec))
        assert "stateDiagram-v2" in text
        for t in spec.transitions:
            assert t.trigger in text
    assert Edge("pending", "processed", ("process",)) in graph_of(REFUND).edges


def test_a_stated_payment_amount_must_be_the_orders() -> None:
    order = type("Order", (), {"amount": 50000})()
    check_amount(order, None)  # not stated: the order's, as always
    check_amount(order, 50000)
    with pytest.raises(ValidationError, match="^amount does not match order$"):
        check_amount(order, 49999)


def test_fail_takes_its_error_from_the_trigger_and_defaults_to_the_banks_decline() -> None:
    fail = next(t for t in PAYMENT.transitions if t.trigger == "fail")
    assert fail.effect(payment(), {}) == {"error_code": "PAYMENT_FAILED",
                                          "error_description": "Payment declined by bank"}
    assert fail.effect(payment(), {"error_code": "CARD_DECLINED",
                                   "error_description": "Card declined by the issuer"}) == {
        "error_code": "CARD_DECLINED", "error_description": "Card declined by the issuer"}
