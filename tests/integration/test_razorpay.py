"""The Razorpay dialect at ``/v1`` driven by the official ``razorpay`` Python client, unmodified:
only its ``base_url`` points at Paystate. Errors must reach the client as its own exceptions,
objects made on one front must read the same on the other, and webhook deliveries must pass
the client's own signature check."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import razorpay
import requests
from razorpay.errors import BadRequestError

from paystate.config import Settings
from paystate.testing import WebhookReceiver
from tests.support import AUTH, Client, Front, ThreadGateway, make_settings, wait_until
from tests.webhooks_support import new_merchant

KEY, SECRET = AUTH["X-Api-Key"], AUTH["X-Api-Secret"]
UPI = {"flow": "collect", "vpa": "shopper@okbank", "expiry_time": "5"}


@pytest.fixture
def rzp(front: Front) -> razorpay.Client:
    return razorpay.Client(auth=(KEY, SECRET), base_url=front.url)


def poll(fetch: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool],
         what: str, timeout: float = 15.0) -> dict[str, Any]:
    """Fetch until ``done`` holds, or fail after ``timeout`` seconds."""
    last: dict[str, Any] = {}

    def check() -> bool:
        nonlocal last
        last = fetch()
        return done(last)

    wait_until(check, timeout, 0.1, what)
    return last


def upi_payment(rzp: razorpay.Client, order: dict[str, Any], **extra: Any) -> str:
    created = rzp.payment.createUpi({
        "amount": order["amount"], "currency": "INR", "order_id": order["id"],
        "email": "shopper@example.com", "contact": "9000090000", "method": "upi",
        "upi": UPI, "ip": "127.0.0.1", "referer": "http", "user_agent": "Mozilla/5.0",
        "description": "Test order", "notes": {"cart": "42"}, **extra})
    assert set(created) == {"razorpay_payment_id"}, created
    return str(created["razorpay_payment_id"])


def authorized(rzp: razorpay.Client, payment_id: str) -> dict[str, Any]:
    return poll(lambda: rzp.payment.fetch(payment_id), lambda p: p["status"] != "created",
                f"payment {payment_id} to settle")


def test_python_client_whole_flow(rzp: razorpay.Client, client: Client) -> None:
    order = rzp.order.create({"amount": 50000, "currency": "INR", "receipt": "rcpt_py_1",
                              "notes": {"customer": "Asha"}})
    assert order["entity"] == "order" and order["id"].startswith("order_")
    assert (order["amount"], order["amount_paid"], order["amount_due"]) == (50000, 0, 50000)
    assert (order["status"], order["attempts"], order["receipt"]) == ("created", 0, "rcpt_py_1")
    assert order["notes"] == {"customer": "Asha"} and isinstance(order["created_at"], int)
    assert abs(order["created_at"] - time.time()) < 60
    assert rzp.order.fetch(order["id"]) == order
    assert order["id"] in [o["id"] for o in rzp.order.all({"count": 100})["items"]]

    payment_id = upi_payment(rzp, order)
    first = rzp.payment.fetch(payment_id)
    assert first["status"] in ("created", "authorized")
    assert rzp.order.fetch(order["id"])["attempts"] == 1

    payment = authorized(rzp, payment_id)
    assert payment["entity"] == "payment"
    assert (payment["status"], payment["captured"], payment["amount"]) == ("authorized", False,
                                                                          50000)
    assert (payment["order_id"], payment["method"], payment["vpa"]) == (order["id"], "upi",
                                                                         "shopper@okbank")
    assert (payment["amount_refunded"], payment["refund_status"]) == (0, None)
    assert (payment["email"], payment["contact"]) == (None, None)
    paid = rzp.order.fetch(order["id"])
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == ("paid", 50000, 0)
    payments = rzp.order.payments(order["id"])
    assert payments["entity"] == "collection" and payments["count"] == 1
    assert payments["items"] == [payment]

    captured = rzp.payment.capture(payment_id, 50000, {"currency": "INR"})
    assert (captured["status"], captured["captured"]) == ("captured", True)

    refund = rzp.payment.refund(payment_id, {"amount": 10000, "notes": {"why": "damaged"}})
    assert refund["entity"] == "refund" and refund["id"].startswith("rfnd_")
    assert (refund["amount"], refund["currency"], refund["payment_id"]) == (10000, "INR",
                                                                           payment_id)
    assert refund["status"] == "pending"
    processed = poll(lambda: rzp.refund.fetch(refund["id"]), lambda r: r["status"] != "pending",
                     "refund to settle")
    assert processed["status"] == "processed"
    assert refund["id"] in [r["id"] for r in rzp.refund.all({"count": 100})["items"]]
    of_payment = rzp.payment.fetch_multiple_refund(payment_id)
    assert [r["id"] for r in of_payment["items"]] == [refund["id"]]
    assert rzp.payment.fetch_refund_id(payment_id, refund["id"]) == processed

    after = rzp.payment.fetch(payment_id)
    assert (after["status"], after["amount_refunded"], after["refund_status"]) == (
        "captured", 10000, "partial")

    # The same objects through the native front.
    native = client.get(f"/api/v1/payments/{payment_id}").json()
    assert (native["status"], native["captured"], native["amount_refunded"]) == (
        "success", True, 10000)
    assert client.get(f"/api/v1/orders/{order['id']}").json()["status"] == "paid"


def test_whole_refund_without_amount_marks_payment_refunded(rzp: razorpay.Client) -> None:
    order = rzp.order.create({"amount": 20000, "currency": "INR"})
    payment_id = upi_payment(rzp, order)
    authorized(rzp, payment_id)
    rzp.payment.capture(payment_id, 20000, {"currency": "INR"})
    first = rzp.refund.create({"payment_id": payment_id, "amount": 5000})
    rest = rzp.payment.refund(payment_id, {})
    assert rest["amount"] == 15000
    for refund in (first, rest):
        poll(lambda r=refund: rzp.refund.fetch(r["id"]), lambda r: r["status"] == "processed",
             "refund to settle")
    payment = rzp.payment.fetch(payment_id)
    assert (payment["status"], payment["amount_refunded"], payment["refund_status"]) == (
        "refunded", 20000, "full")
    with pytest.raises(BadRequestError):
        rzp.payment.refund(payment_id, {})


def test_card_payment_through_create_json(rzp: razorpay.Client) -> None:
    order = rzp.order.create({"amount": 30000, "currency": "INR"})
    created = rzp.payment.createPaymentJson({
        "amount": 30000, "currency": "INR", "order_id": order["id"], "method": "card",
        "email": "shopper@example.com", "contact": "9000090000",
        "card": {"number": "4111 1111 1111 1111", "name": "Asha Rao", "expiry_month": "12",
                 "expiry_year": "2040", "cvv": "123"}})
    assert created["next"] == [] and created["razorpay_payment_id"].startswith("pay_")
    payment = authorized(rzp, created["razorpay_payment_id"])
    assert (payment["method"], payment["status"], payment["vpa"]) == ("card", "authorized", None)


def test_bad_requests_raise_the_clients_bad_request_error(rzp: razorpay.Client,
                                                         front: Front) -> None:
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: rzp.order.create({"amount": 50, "currency": "INR"}),
         "amount must be at least 100"),
        (lambda: rzp.order.create({"amount": 5000, "currency": "USD"}), "currency must be INR"),
        (lambda: rzp.order.create({"amount": 5000, "payment_capture": 1}),
         "automatic capture is not supported"),
        (lambda: rzp.order.create({"amount": 5000, "offer_id": "offer_x"}),
         "offer_id is not supported"),
        (lambda: rzp.order.fetch("order_doesnotexist00"), "The id provided does not exist"),
        (lambda: rzp.payment.fetch("pay_doesnotexist0000"), "The id provided does not exist"),
        (lambda: rzp.refund.fetch("rfnd_doesnotexist000"), "The id provided does not exist"),
        (lambda: rzp.payment.createUpi({"amount": 100, "currency": "INR", "method": "upi",
                                        "order_id": "order_doesnotexist00", "upi": UPI}),
         "The id provided does not exist"),
        (lambda: rzp.customer.fetch("cust_123"), "not supported by Paystate"),
        (lambda: rzp.order.all({"count": 0}), "count must be at least 1"),
        (lambda: rzp.order.all({"expand[]": "payments"}), "not supported"),
        (lambda: razorpay.Client(auth=(KEY, "wrong"), base_url=front.url).order.all(),
         "Authentication failed"),
    ]
    for call, message in cases:
        with pytest.raises(BadRequestError) as caught:
            call()
        assert message in str(caught.value), (message, str(caught.value))

    order = rzp.order.create({"amount": 20000, "currency": "INR"})
    for body, message in [({"amount": 100}, "amount must equal the order's amount"),
                          ({"upi": {"flow": "intent"}}, "only the UPI collect flow"),
                          ({"upi": {"flow": "collect", "vpa": "not a vpa"}}, "Invalid VPA"),
                          ({"method": "card"}, "method must be one of: upi")]:
        payload = {"amount": 20000, "currency": "INR", "order_id": order["id"],
                   "method": "upi", "upi": UPI, **body}
        with pytest.raises(BadRequestError) as caught:
            rzp.payment.createUpi(payload)
        assert message in str(caught.value), (message, str(caught.value))
    payment_id = upi_payment(rzp, order)
    with pytest.raises(BadRequestError, match="Payment is pending: capture it after it"):
        rzp.payment.capture(payment_id, 20000, {"currency": "INR"})  # still created (pending)
    authorized(rzp, payment_id)
    with pytest.raises(BadRequestError, match="The currency field is required."):
        rzp.payment.capture(payment_id, 20000)
    with pytest.raises(BadRequestError, match="Capture amount must equal the payment amount"):
        rzp.payment.capture(payment_id, 100, {"currency": "INR"})
    with pytest.raises(BadRequestError, match="The payment has not been captured"):
        rzp.payment.refund(payment_id, {"amount": 100})  # authorized: Razorpay refuses it too
    rzp.payment.capture(payment_id, 20000, {"currency": "INR"})
    with pytest.raises(BadRequestError, match="Refund amount exceeds the refundable ₹200.00"):
        rzp.payment.refund(payment_id, {"amount": 20001})
    with pytest.raises(BadRequestError, match="instant refunds are not supported"):
        rzp.payment.refund(payment_id, {"amount": 100, "speed": "optimum"})


def basic(key: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_error_envelope_is_razorpays(front: Front) -> None:
    url = front.url
    keys = {"code", "description", "source", "step", "reason", "metadata", "field"}
    for headers in ({}, basic(KEY, "nope"), {"Authorization": "Basic !!!"},
                    {"Authorization": "Bearer abc"}, AUTH):
        r = requests.get(f"{url}/v1/orders", headers=headers, timeout=10)
        assert r.status_code == 401, r.text
        error = r.json()["error"]
        assert set(error) == keys
        assert (error["code"], error["description"]) == ("BAD_REQUEST_ERROR",
                                                         "Authentication failed")
    r = requests.post(f"{url}/v1/orders", json={"amount": "100"}, headers=basic(KEY, SECRET),
                      timeout=10)
    assert r.status_code == 400
    assert r.json() == {"error": {
        "code": "BAD_REQUEST_ERROR", "description": "amount must be an integer",
        "source": "business", "step": "payment_initiation",
        "reason": "input_validation_failed", "metadata": {}, "field": "amount"}}
    r = requests.get(f"{url}/v1/payments/pay_unknown", headers=basic(KEY, SECRET), timeout=10)
    assert (r.status_code, r.json()["error"]["description"]) == (
        400, "The id provided does not exist")
    r = requests.get(f"{url}/v1/customers", headers=basic(KEY, "nope"), timeout=10)
    assert r.status_code == 401, r.text
    r = requests.get(f"{url}/v1/customers", headers=basic(KEY, SECRET), timeout=10)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "BAD_REQUEST_ERROR")
    r = requests.delete(f"{url}/v1/orders", headers=basic(KEY, SECRET), timeout=10)
    assert (r.status_code, r.json()["error"]["code"]) == (405, "BAD_REQUEST_ERROR")
    r = requests.post(f"{url}/v1/orders", data=b"{", headers=basic(KEY, SECRET), timeout=10)
    assert (r.status_code, set(r.json()["error"])) == (400, keys)


def test_objects_made_on_either_front_read_on_the_other(rzp: razorpay.Client,
                                                        client: Client) -> None:
    native_order = client.order(40000, receipt="native_1")
    seen = rzp.order.fetch(native_order["id"])
    assert (seen["amount"], seen["receipt"], seen["status"]) == (40000, "native_1", "created")
    native_payment = client.wait_payment(client.upi_payment(native_order["id"])["id"])
    assert rzp.payment.fetch(native_payment["id"])["status"] == "authorized"
    assert rzp.order.fetch(native_order["id"])["attempts"] == 1

    order = rzp.order.create({"amount": 12345, "currency": "INR", "receipt": "rzp_1"})
    native = client.get(f"/api/v1/orders/{order['id']}").json()
    assert (native["amount"], native["receipt"], native["status"]) == (12345, "rzp_1", "created")


def test_idempotency_key_replays_within_the_dialect_only(front: Front) -> None:
    key = f"rzp-{uuid.uuid4().hex}"
    headers = {**basic(KEY, SECRET), "Idempotency-Key": key}
    body = {"amount": 10000, "currency": "INR"}
    first = requests.post(f"{front.url}/v1/orders", json=body, headers=headers, timeout=10)
    again = requests.post(f"{front.url}/v1/orders", json=body, headers=headers, timeout=10)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    other = requests.post(f"{front.url}/v1/orders", json={"amount": 10001},
                          headers=headers, timeout=10)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "BAD_REQUEST_ERROR")
    # The same key on the native front never replays the dialect's bytes.
    native = requests.post(f"{front.url}/api/v1/orders", json=body,
                           headers={**AUTH, "Idempotency-Key": key}, timeout=10)
    assert native.status_code == 201 and "Idempotent-Replayed" not in native.headers
    assert native.json()["id"] != first.json()["id"]
    # ...and the reverse: each front's key is its own, even with another body.
    fresh = f"native-{uuid.uuid4().hex}"
    assert requests.post(f"{front.url}/api/v1/orders", json=body,
                         headers={**AUTH, "Idempotency-Key": fresh}, timeout=10).status_code == 201
    other_body = requests.post(f"{front.url}/v1/orders", json={"amount": 777},
                               headers={**basic(KEY, SECRET), "Idempotency-Key": fresh},
                               timeout=10)
    assert other_body.status_code == 200 and other_body.json()["amount"] == 777

    # Through the client, as a merchant would pass the header.
    rzp = razorpay.Client(auth=(KEY, SECRET), base_url=front.url)
    order = rzp.order.create(body)
    pay_key = {"Idempotency-Key": f"rzp-pay-{uuid.uuid4().hex}"}
    payload = {"amount": 10000, "currency": "INR", "order_id": order["id"], "method": "upi",
               "upi": UPI}
    one = rzp.payment.createUpi(dict(payload), headers=dict(pay_key))
    two = rzp.payment.createUpi(dict(payload), headers=dict(pay_key))
    assert one == two
    assert rzp.order.payments(order["id"])["count"] == 1


def test_collections_count_skip_from_to(rzp: razorpay.Client) -> None:
    receipt = f"r{uuid.uuid4().hex[:12]}"
    made = [rzp.order.create({"amount": 1000 + i, "currency": "INR", "receipt": receipt})
            for i in range(3)]
    found = rzp.order.all({"receipt": receipt})
    assert found["entity"] == "collection" and found["count"] == 3
    assert [o["id"] for o in found["items"]] == [o["id"] for o in reversed(made)]
    page = rzp.order.all({"receipt": receipt, "count": 1, "skip": 1})
    assert [o["id"] for o in page["items"]] == [made[1]["id"]]
    start = made[0]["created_at"]
    assert rzp.order.all({"receipt": receipt, "from": start, "to": start + 3600})["count"] == 3
    assert rzp.order.all({"receipt": receipt, "to": start - 1})["count"] == 0
    # Fractional seconds are accepted: a second before the first order takes all three, an
    # hour after takes none.
    assert rzp.order.all({"receipt": receipt, "from": f"{start - 1}.5"})["count"] == 3
    assert rzp.order.all({"receipt": receipt, "from": f"{start + 3600}.5"})["count"] == 0
    with pytest.raises(BadRequestError, match="from must be"):
        rzp.order.all({"from": "yesterday"})
    assert rzp.payment.all({"count": 2})["count"] <= 2
    assert rzp.refund.all({"count": 1, "skip": 0})["entity"] == "collection"


def test_switch_turns_the_dialect_off(base_settings: Settings) -> None:
    gw = ThreadGateway(make_settings(razorpay_front=False)).start()
    try:
        r = requests.get(f"{gw.url}/v1/orders", headers=basic(KEY, SECRET), timeout=10)
        assert r.status_code == 404
        assert r.json()["error"] == {"code": "NOT_FOUND_ERROR", "param": None,
                                     "description": "The requested URL was not found",
                                     "request_id": r.headers["X-Request-Id"]}
        assert gw.client.order(1000)["status"] == "created"
    finally:
        gw.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def test_webhooks_pass_the_clients_signature_check(front: Front,
                                                   receiver: WebhookReceiver) -> None:
    secret = "whsec_razorpay_" + uuid.uuid4().hex
    _, native = new_merchant(front.settings, front.url, webhook_url=receiver.url,
                             webhook_secret=secret)
    rzp = razorpay.Client(auth=(native.auth["X-Api-Key"], native.auth["X-Api-Secret"]),
                          base_url=front.url)
    order = rzp.order.create({"amount": 10000, "currency": "INR"})
    payment_id = upi_payment(rzp, order)
    authorized(rzp, payment_id)
    requests_ = wait_until(lambda: [r for r in receiver.requests
                                    if b"payment.success" in r.body], 15, 0.1,
                           "the payment.success delivery")
    delivery = requests_[0]
    signature = delivery.headers["x-razorpay-signature"]
    assert signature == delivery.headers["x-webhook-signature"]
    assert rzp.utility.verify_webhook_signature(delivery.body.decode(), signature, secret)
    with pytest.raises(razorpay.errors.SignatureVerificationError):
        rzp.utility.verify_webhook_signature(delivery.body.decode() + " ", signature, secret)
