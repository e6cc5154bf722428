"""A delivery's ``status`` in API bodies is the contract's word (pending, success, failed); the
delivery machine's own state travels beside it as ``state``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from paystate.http.renderers import (
    DELIVERY_STATUSES,
    delivery_detail_json,
    delivery_json,
    delivery_status,
    retry_json,
)
from paystate.machines.webhook import WEBHOOK_DELIVERY

AT = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def row(state: str, attempts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": "0b6f1c3e-8a52-4d7e-9f0a-3c2b1d4e5f60", "event": "payment.success",
            "status": state, "attempts": attempts, "created_at": AT, "last_attempt_at": None,
            "next_retry_at": None, "response_code": None, "livemode": False,
            "merchant_id": "550e8400-e29b-41d4-a716-446655440000", "updated_at": AT,
            "payload": json.dumps({"event": "payment.success", "timestamp": 1,
                                   "data": {"payment": {"id": "pay_1"}}}), **extra}


def test_waiting_for_its_first_attempt_is_pending() -> None:
    body = delivery_json(row("pending", next_retry_at=AT))
    assert (body["status"], body["state"]) == ("pending", "pending")


def test_waiting_between_retries_is_pending_with_state_retrying() -> None:
    body = delivery_json(row("retrying", attempts=2, response_code=503, next_retry_at=AT))
    assert (body["status"], body["state"]) == ("pending", "retrying")


def test_delivered_is_success_with_state_succeeded() -> None:
    body = delivery_json(row("succeeded", attempts=1, response_code=200, last_attempt_at=AT))
    assert (body["status"], body["state"]) == ("success", "succeeded")


def test_given_up_is_failed() -> None:
    body = delivery_json(row("failed", attempts=5, response_code=500, last_attempt_at=AT))
    assert (body["status"], body["state"]) == ("failed", "failed")


def test_detail_and_retry_answer_use_the_same_words() -> None:
    detail = delivery_detail_json(row("retrying", attempts=1), [])
    assert (detail["status"], detail["state"]) == ("pending", "retrying")
    assert detail["payload"]["data"]["payment"]["id"] == "pay_1"
    assert retry_json("d1", "pending") == {"id": "d1", "status": "pending", "state": "pending",
                                           "message": "Webhook retry scheduled"}


def test_every_machine_state_has_a_contract_word_and_nothing_else_does() -> None:
    assert {delivery_status(s) for s in WEBHOOK_DELIVERY.states} == set(DELIVERY_STATUSES)
    with pytest.raises(KeyError):
        delivery_status("delivered")
