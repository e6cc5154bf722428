"""Razorpay-format webhook bodies: which Razorpay events each Paystate event becomes, and that a
handler written against Razorpay's documented payload, and the official client's signature
check, take them as they are (pure functions, no servers)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import razorpay
from razorpay.errors import SignatureVerificationError

from paystate.http.razorpay.webhook_bodies import razorpay_events
from paystate.machines.endpoints import RAZORPAY_EVENTS
from paystate.machines.models import Order, Payment, Refund

AT = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
SENT_AT = 1893488460
MERCHANT = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT = "acc_550e8400e29b41"
ORDER = Order(id="order_AAAAAAAAAAAAAAAA", merchant_id=MERCHANT, amount=10000, currency="INR",
              receipt="r1", notes={}, state="paid", version=2, created_at=AT, updated_at=AT,
              paid_payment_id="pay_AAAAAAAAAAAAAAAA")
PAYMENT = Payment(id="pay_AAAAAAAAAAAAAAAA", order_id=ORDER.id, merchant_id=MERCHANT,
                  amount=10000, currency="INR", method="upi", vpa="a@b", card_network=None,
                  card_last4=None, state="success", captured=False, error_code=None,
                  error_description=None, amount_refunded=0, amount_refund_pending=0,
                  settle_due_at=None, version=2, created_at=AT, updated_at=AT)
REFUND = Refund(id="rfnd_AAAAAAAAAAAAAAAA", payment_id=PAYMENT.id, order_id=ORDER.id,
                merchant_id=MERCHANT, amount=2500, reason=None, state="pending",
                settle_due_at=None, processed_at=None, version=1, created_at=AT, updated_at=AT)
FAILED = replace(PAYMENT, state="failed", error_code="BAD_REQUEST_ERROR",
                 error_description="Payment declined by the bank")
CAPTURED = replace(PAYMENT, captured=True)

# Each Paystate event with the objects the dispatcher hands over, and the Razorpay events (with
# their ``contains``) it must become.
CASES: list[tuple[str, Any, Any, list[tuple[str, list[str]]]]] = [
    ("payment.created", replace(PAYMENT, state="pending"), ORDER, []),
    ("payment.pending", replace(PAYMENT, state="pending"), ORDER, []),
    ("payment.success", PAYMENT, ORDER,
     [("payment.authorized", ["payment"]), ("order.paid", ["payment", "order"])]),
    ("payment.captured", CAPTURED, ORDER, [("payment.captured", ["payment"])]),
    ("payment.failed", FAILED, ORDER, [("payment.failed", ["payment"])]),
    ("refund.created", REFUND, CAPTURED, [("refund.created", ["refund", "payment"])]),
    ("refund.processed", replace(REFUND, state="processed", processed_at=AT),
     replace(CAPTURED, amount_refunded=2500), [("refund.processed", ["refund", "payment"])]),
    ("refund.failed", replace(REFUND, state="failed"), CAPTURED,
     [("refund.failed", ["refund", "payment"])]),
    ("webhook.test", None, None, [("webhook.test", [])]),
]


def events(event: str, obj: Any, related: Any) -> list[tuple[str, dict[str, Any]]]:
    return razorpay_events(event, obj, related, MERCHANT, SENT_AT)


@pytest.mark.parametrize("event,obj,related,expected", CASES, ids=[c[0] for c in CASES])
def test_each_paystate_event_becomes_its_razorpay_events(
        event: str, obj: Any, related: Any, expected: list[tuple[str, list[str]]]) -> None:
    made = events(event, obj, related)
    assert [(name, body["contains"]) for name, body in made] == expected
    for name, body in made:
        assert body["event"] == name
        assert list(body["payload"]) == body["contains"]


@pytest.mark.parametrize("event,obj,related,expected", CASES, ids=[c[0] for c in CASES])
def test_the_envelope_is_razorpays(event: str, obj: Any, related: Any,
                                   expected: list[tuple[str, list[str]]]) -> None:
    for name, body in events(event, obj, related):
        assert list(body) == ["entity", "account_id", "event", "contains", "payload",
                              "created_at"]
        assert (body["entity"], body["account_id"], body["created_at"]) == (
            "event", ACCOUNT, SENT_AT)


def test_the_payload_carries_the_v1_entities() -> None:
    (_, authorized), (_, paid) = events("payment.success", PAYMENT, ORDER)
    for body in (authorized, paid):
        entity = body["payload"]["payment"]["entity"]
        assert (entity["id"], entity["entity"], entity["status"]) == (
            PAYMENT.id, "payment", "authorized")
    order = paid["payload"]["order"]["entity"]
    assert (order["id"], order["entity"], order["status"], order["attempts"]) == (
        ORDER.id, "order", "paid", 1)
    assert (order["amount_paid"], order["amount_due"]) == (10000, 0)

    [(_, captured)] = events("payment.captured", CAPTURED, ORDER)
    assert captured["payload"]["payment"]["entity"]["status"] == "captured"
    [(_, failed)] = events("payment.failed", FAILED, None)
    assert failed["payload"]["payment"]["entity"]["error_code"] == "BAD_REQUEST_ERROR"

    [(_, refunded)] = events("refund.processed", replace(REFUND, state="processed"),
                             replace(CAPTURED, amount_refunded=2500))
    assert refunded["payload"]["refund"]["entity"]["id"] == REFUND.id
    assert refunded["payload"]["refund"]["entity"]["status"] == "processed"
    assert refunded["payload"]["payment"]["entity"]["refund_status"] == "partial"


def test_order_paid_says_paid_even_from_an_order_read_before_mark_paid() -> None:
    # The engine fires the payment's succeed before the order's mark_paid.
    unpaid = replace(ORDER, state="created", paid_payment_id=None)
    [_, (_, paid)] = events("payment.success", PAYMENT, unpaid)
    order = paid["payload"]["order"]["entity"]
    assert (order["status"], order["amount_paid"]) == ("paid", 10000)
    assert unpaid.state == "created"  # the caller's object is left as it was


def test_an_unknown_related_object_leaves_its_entity_out() -> None:
    # order.paid needs its order: without it, only payment.authorized.
    assert [name for name, _ in events("payment.success", PAYMENT, None)] == [
        "payment.authorized"]
    [(_, body)] = events("refund.created", REFUND, None)
    assert (body["contains"], list(body["payload"])) == (["refund"], ["refund"])


def test_webhook_test_has_an_empty_payload() -> None:
    [(name, body)] = events("webhook.test", None, None)
    assert (name, body["payload"], body["contains"]) == ("webhook.test", {}, [])


def test_an_unmapped_event_is_refused_rather_than_dropped() -> None:
    with pytest.raises(ValueError, match="payment.refunded"):
        events("payment.refunded", PAYMENT, ORDER)


def test_every_name_made_is_one_an_endpoint_can_enable() -> None:
    made = {name for event, obj, related, _ in CASES for name, _ in events(event, obj, related)}
    assert made - {"webhook.test"} == set(RAZORPAY_EVENTS)


def razorpay_style_handler(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """What a merchant's handler does with Razorpay's documented payload."""
    payment_id = body["payload"]["payment"]["entity"]["id"]
    order_status = None
    if body["event"] == "order.paid":
        order_status = body["payload"]["order"]["entity"]["status"]
    return body["event"], payment_id, order_status


def test_a_handler_written_for_razorpay_reads_the_bodies() -> None:
    seen = [razorpay_style_handler(body) for _, body in events("payment.success", PAYMENT, ORDER)]
    assert seen == [("payment.authorized", PAYMENT.id, None),
                    ("order.paid", PAYMENT.id, "paid")]
    [(_, body)] = events("refund.processed", REFUND, CAPTURED)
    assert razorpay_style_handler(body) == ("refund.processed", PAYMENT.id, None)


@pytest.mark.parametrize("event,obj,related,expected", CASES, ids=[c[0] for c in CASES])
def test_the_official_client_verifies_the_signature(
        event: str, obj: Any, related: Any, expected: list[tuple[str, list[str]]]) -> None:
    secret = "whsec_test_abc123"
    client = razorpay.Client(auth=("k", "s"))
    for _, body in events(event, obj, related):
        text = json.dumps(body, separators=(",", ":"))
        signature = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
        assert client.utility.verify_webhook_signature(text, signature, secret)
        with pytest.raises(SignatureVerificationError):
            client.utility.verify_webhook_signature(text + " ", signature, secret)
