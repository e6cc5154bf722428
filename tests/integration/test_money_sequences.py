"""Random sequences of capture, refund and settlement over HTTP, on both fronts and in both
topologies: no sequence captures refunded money or refunds more than was paid.

The native API refunds successful payments, captured or not (the seed's rule), and refuses to
capture a payment with any pending or processed refund. The Razorpay dialect refunds captured
payments only, as Razorpay does, and its capture needs ``currency``."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest

from paystate.machines.payment import ALREADY_CAPTURED, HAS_REFUNDS, NOT_CAPTURABLE, NOT_CAPTURED
from tests.support import AUTH, Client, wait_until

AMOUNT = 20000
BASIC = "Basic " + base64.b64encode(
    f"{AUTH['X-Api-Key']}:{AUTH['X-Api-Secret']}".encode()).decode()


def rzp(client: Client, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, path, auth=False, json=body,
                          headers={"Authorization": BASIC})


def test_capture_after_a_full_refund_is_refused_on_both_fronts(client: Client) -> None:
    """The finding: refund all of an uncaptured payment, let it process, then capture."""
    order = client.order(AMOUNT)
    payment = client.wait_payment(client.upi_payment(order["id"])["id"])
    refund = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": AMOUNT})
    assert refund.status_code == 201, refund.text
    # Against a pending refund as well as a processed one.
    for _ in range(2):
        native = client.post(f"/api/v1/payments/{payment['id']}/capture", {})
        assert (native.status_code, native.json()["error"]["description"]) == (400, HAS_REFUNDS)
        v1 = rzp(client, "POST", f"/v1/payments/{payment['id']}/capture",
                 {"amount": AMOUNT, "currency": "INR"})
        assert (v1.status_code, v1.json()["error"]["description"]) == (400, HAS_REFUNDS)
        wait_until(lambda: client.get(f"/api/v1/refunds/{refund.json()['id']}").json()[
            "status"] == "processed", 10, 0.05, "refund processed")
    got = rzp(client, "GET", f"/v1/payments/{payment['id']}").json()
    assert (got["status"], got["captured"], got["amount_refunded"]) == ("refunded", False, AMOUNT)


def test_the_razorpay_dialect_refunds_captured_payments_only(client: Client) -> None:
    order = client.order(AMOUNT)
    payment = client.wait_payment(client.upi_payment(order["id"])["id"])
    refused = rzp(client, "POST", f"/v1/payments/{payment['id']}/refund", {"amount": 100})
    assert (refused.status_code, refused.json()["error"]["description"]) == (400, NOT_CAPTURED)
    no_currency = rzp(client, "POST", f"/v1/payments/{payment['id']}/capture", {"amount": AMOUNT})
    assert no_currency.status_code == 400
    assert no_currency.json()["error"]["field"] == "currency"
    assert client.get(f"/api/v1/payments/{payment['id']}").json()["captured"] is False
    ok = rzp(client, "POST", f"/v1/payments/{payment['id']}/capture",
             {"amount": AMOUNT, "currency": "INR"})
    assert ok.status_code == 200, ok.text
    assert rzp(client, "POST", f"/v1/payments/{payment['id']}/refund",
               {"amount": 100}).status_code == 200


def step(client: Client, payment_id: str, op: str, amount: int) -> tuple[int, str]:
    """One operation through one front; (status, error description or "")."""
    if op == "capture-native":
        r = client.post(f"/api/v1/payments/{payment_id}/capture", {})
    elif op == "capture-v1":
        r = rzp(client, "POST", f"/v1/payments/{payment_id}/capture",
                {"amount": AMOUNT, "currency": "INR"})
    elif op == "refund-native":
        r = client.post(f"/api/v1/payments/{payment_id}/refunds", {"amount": amount})
    else:
        r = rzp(client, "POST", f"/v1/payments/{payment_id}/refund", {"amount": amount})
    return r.status_code, (r.json().get("error") or {}).get("description", "") \
        if r.status_code >= 400 else ""


@pytest.mark.parametrize("seed", range(4))
def test_random_sequences_never_capture_refunded_money(client: Client, seed: int) -> None:
    rng = random.Random(seed)
    order = client.order(AMOUNT)
    payment = client.wait_payment(client.upi_payment(order["id"])["id"])
    pid = payment["id"]
    captured = False
    accepted = 0
    for _ in range(8):
        op = rng.choice(["capture-native", "capture-v1", "refund-native", "refund-v1",
                         "settle"])
        if op == "settle":
            wait_until(lambda: client.get(f"/api/v1/payments/{pid}/refunds").json() == [] or all(
                r["status"] != "pending"
                for r in client.get(f"/api/v1/payments/{pid}/refunds").json()),
                10, 0.05, "refunds settled")
            continue
        amount = rng.choice([1, 100, 5000, AMOUNT, AMOUNT + 1])
        status, why = step(client, pid, op, amount)
        if op.startswith("capture"):
            if captured:
                # The native API keeps the contract's text; the dialect says which case.
                expected = NOT_CAPTURABLE if op == "capture-native" else ALREADY_CAPTURED
                assert (status, why) == (400, expected), (op, status, why)
            elif accepted:
                assert (status, why) == (400, HAS_REFUNDS), (op, status, why)
            else:
                assert status == 200, (op, status, why)
                captured = True
        else:
            fits = accepted + amount <= AMOUNT
            if op == "refund-v1" and not captured:
                assert (status, why) == (400, NOT_CAPTURED), (op, status, why)
            elif fits:
                assert status in (200, 201), (op, amount, status, why)
                accepted += amount
            else:
                assert status == 400, (op, amount, status, why)
        body = client.get(f"/api/v1/payments/{pid}").json()
        assert body["captured"] is captured
        assert body["amount_refunded"] <= accepted <= AMOUNT
