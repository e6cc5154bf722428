"""What an error tells a developer on their first day, on both fronts and in both topologies:
the field at fault (``param`` / Razorpay's ``field``), a request id in every answer and its log
line, the precise reason beside a text the contract fixes, ``Allow`` on a 405, a hint for HTTP
Basic on ``/api/v1``, trailing slashes served, and misspelt fields refused by name."""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

import pytest

from tests.support import AUTH, Client, ThreadGateway, wait_until

REQUEST_ID = re.compile(r"^req_[A-Za-z0-9]{16}$")
BASIC = {"Authorization": "Basic " + base64.b64encode(
    f"{AUTH['X-Api-Key']}:{AUTH['X-Api-Secret']}".encode()).decode()}
CARD = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2099,
        "cvv": "123", "holder_name": "Asha"}


def rzp(client: Client, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, path, auth=False, json=body, headers=BASIC)


def error(r: Any, status: int) -> dict[str, Any]:
    """The native envelope's error, checked for the fields every error carries."""
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert REQUEST_ID.match(err["request_id"]), err
    assert err["request_id"] == r.headers["X-Request-Id"]
    assert "param" in err
    return err


# -- param and request_id ----------------------------------------------------------------------

@pytest.mark.parametrize("body,param", [
    ({"amount": 50}, "amount"),
    ({"amount": "500"}, "amount"),
    ({"amount": 500, "currency": "USD"}, "currency"),
    ({"amount": 500, "receipt": "r" * 41}, "receipt"),
    ({"amount": 500, "notes": []}, "notes"),
    ({"amount": 500, "notes": {"k": 1.5}}, "notes.k"),
])
def test_order_refusals_name_their_field(client: Client, body: dict[str, Any],
                                         param: str) -> None:
    assert error(client.post("/api/v1/orders", body), 400)["param"] == param


def test_payment_refusals_name_their_field(client: Client) -> None:
    order = client.order()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"method": "cash"}, "method", "BAD_REQUEST_ERROR"),
        ({"method": "upi", "vpa": "not a vpa"}, "vpa", "INVALID_VPA"),
        ({"method": "card", "card": {**CARD, "number": "4111 1111 1111 1112"}}, "card.number",
         "INVALID_CARD"),
        ({"method": "card", "card": {**CARD, "expiry_month": 13}}, "card.expiry_month",
         "EXPIRED_CARD"),
        ({"method": "card", "card": {**CARD, "expiry_year": 2001}}, "card.expiry_year",
         "EXPIRED_CARD"),
        ({"method": "card", "card": {**CARD, "cvv": "12"}}, "card.cvv", "BAD_REQUEST_ERROR"),
        ({"method": "upi", "vpa": "a@b", "amount": 1}, "amount", "BAD_REQUEST_ERROR"),
    ]
    for body, param, code in cases:
        err = error(client.post("/api/v1/payments", {"order_id": order["id"], **body}), 400)
        assert (err["param"], err["code"]) == (param, code), (body, err)
    missing = error(client.post("/api/v1/payments", {"method": "upi", "vpa": "a@b"}), 400)
    assert missing["param"] == "order_id"


def test_an_error_without_a_field_has_a_null_param_and_every_answer_a_request_id(
        client: Client) -> None:
    unknown = error(client.get("/api/v1/orders/order_nope"), 404)
    assert unknown["param"] is None
    ok = client.get("/health", auth=False)
    assert REQUEST_ID.match(ok.headers["X-Request-Id"])
    for path in ("/sdk/checkout.js", "/login", "/openapi.json", "/nowhere"):
        assert REQUEST_ID.match(client.get(path, auth=False).headers["X-Request-Id"]), path
    # Each answer has its own id, and a client's own id is not echoed (the log line has it).
    sent = client.get("/api/v1/orders/order_nope", headers={"X-Request-Id": "mine-1"})
    assert REQUEST_ID.match(sent.headers["X-Request-Id"])
    assert sent.headers["X-Request-Id"] != unknown["request_id"]


def test_the_razorpay_front_names_the_field_and_sends_a_request_id(client: Client) -> None:
    r = rzp(client, "POST", "/v1/orders", {"amount": "500"})
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "amount"
    assert REQUEST_ID.match(r.headers["X-Request-Id"])
    assert "request_id" not in r.json()["error"]  # Razorpay's envelope, as it is
    order = rzp(client, "POST", "/v1/orders", {"amount": 20000, "currency": "INR"}).json()
    card = rzp(client, "POST", "/v1/payments/create/json", {
        "order_id": order["id"], "amount": 20000, "currency": "INR", "method": "card",
        "card": {"number": "4111111111111112", "expiry_month": 12, "expiry_year": 2099,
                 "cvv": "123", "name": "A"}})
    assert (card.status_code, card.json()["error"]["field"]) == (400, "card.number")


def test_the_access_log_line_names_the_request_id(in_process: ThreadGateway,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")
    client = Client(in_process.url)
    r = client.post("/api/v1/orders", {"amount": 50}, headers={"X-Request-Id": "shop-42"})
    ok = client.get("/health", auth=False)

    def line(request_id: str) -> str | None:
        # Tornado logs a request after its answer is sent: the client may read it first.
        found = [rec.getMessage() for rec in caplog.records
                 if rec.name == "tornado.access" and request_id in rec.getMessage()]
        return found[0] if found else None

    refused = wait_until(lambda: line(r.headers["X-Request-Id"]), 5, 0.02, "the log line")
    assert refused.startswith("400 POST /api/v1/orders") and "(client shop-42)" in refused
    assert wait_until(lambda: line(ok.headers["X-Request-Id"]), 5, 0.02, "the log line")


# -- precise reasons beside the contract's texts -----------------------------------------------

def test_capture_refusals_keep_the_contract_text_and_say_which_case(client: Client) -> None:
    order = client.order(20000)
    payment = client.upi_payment(order["id"])
    pending = error(client.post(f"/api/v1/payments/{payment['id']}/capture", {}), 400)
    assert (pending["description"], pending["detail"]) == (
        "Payment not in capturable state", "Payment is pending: capture it after it succeeds")
    v1 = rzp(client, "POST", f"/v1/payments/{payment['id']}/capture",
             {"amount": 20000, "currency": "INR"})
    assert v1.json()["error"]["description"] == "Payment is pending: capture it after it succeeds"
    client.wait_payment(payment["id"])
    assert client.post(f"/api/v1/payments/{payment['id']}/capture", {}).status_code == 200
    twice = error(client.post(f"/api/v1/payments/{payment['id']}/capture", {}), 400)
    assert (twice["description"], twice["detail"]) == (
        "Payment not in capturable state", "Payment is already captured")
    v1 = rzp(client, "POST", f"/v1/payments/{payment['id']}/capture",
             {"amount": 20000, "currency": "INR"})
    assert v1.json()["error"]["description"] == "Payment is already captured"

    failed_order = client.order(20000)
    failed = client.wait_payment(client.upi_payment(failed_order["id"],
                                                    "failure@paystate")["id"])
    assert failed["status"] == "failed"
    err = error(client.post(f"/api/v1/payments/{failed['id']}/capture", {}), 400)
    assert (err["description"], err["detail"]) == (
        "Payment not in capturable state", "Payment failed: a failed payment cannot be captured")
    refund = error(client.post(f"/api/v1/payments/{failed['id']}/refunds", {"amount": 100}), 400)
    assert refund["description"] == "Payment not in refundable state"
    assert "nothing to refund" in refund["detail"]


def test_a_refund_over_the_rest_says_how_much_is_refundable(client: Client) -> None:
    order = client.order(50000)
    payment = client.wait_payment(client.upi_payment(order["id"])["id"])
    path = f"/api/v1/payments/{payment['id']}/refunds"
    assert client.post(path, {"amount": 12345}).status_code == 201
    err = error(client.post(path, {"amount": 40000}), 400)
    assert err == {**err, "description": "Refund amount exceeds available amount",
                   "detail": "Refund amount exceeds the refundable ₹376.55",
                   "refundable": 37655, "param": "amount", "code": "BAD_REQUEST_ERROR"}
    assert client.post(f"/api/v1/payments/{payment['id']}/capture", {}).status_code == 400
    # The Razorpay dialect refunds captured payments only: a fresh, captured payment.
    order = client.order(20000)
    payment = client.wait_payment(client.upi_payment(order["id"])["id"])
    assert client.post(f"/api/v1/payments/{payment['id']}/capture", {}).status_code == 200
    v1 = rzp(client, "POST", f"/v1/payments/{payment['id']}/refund", {"amount": 20001}).json()
    assert (v1["error"]["description"], v1["error"]["metadata"], v1["error"]["field"]) == (
        "Refund amount exceeds the refundable ₹200.00", {"refundable": 20000}, "amount")


# -- 405, Basic auth, trailing slashes, unknown fields ---------------------------------------

def test_a_405_names_the_methods_the_path_serves(client: Client) -> None:
    order = client.order()
    r = client.request("DELETE", f"/api/v1/orders/{order['id']}")
    assert (error(r, 405)["description"], r.headers["Allow"]) == ("Method not allowed", "GET")
    r = client.request("PUT", "/api/v1/payments")
    assert (error(r, 405)["code"], r.headers["Allow"]) == ("BAD_REQUEST_ERROR", "GET, POST")
    r = rzp(client, "DELETE", "/v1/orders")
    assert (r.status_code, r.headers["Allow"]) == (405, "GET, POST")
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_basic_auth_on_the_native_api_is_told_where_credentials_go(client: Client) -> None:
    r = client.request("GET", "/api/v1/payments", auth=False, headers=BASIC)
    err = error(r, 401)
    assert (err["code"], err["description"]) == ("AUTHENTICATION_ERROR",
                                                 "Invalid API credentials")
    assert "X-Api-Key" in err["detail"] and "/v1" in err["detail"]
    wrong = error(client.request("GET", "/api/v1/payments", auth=False), 401)
    assert "detail" not in wrong


def test_trailing_slashes_are_served_on_both_fronts(client: Client) -> None:
    made = client.post("/api/v1/orders/", {"amount": 1000})
    assert made.status_code == 201, made.text
    assert client.get(f"/api/v1/orders/{made.json()['id']}/").json()["id"] == made.json()["id"]
    assert client.get("/api/v1/payments/?limit=1").status_code == 200
    v1 = rzp(client, "POST", "/v1/orders/", {"amount": 1000, "currency": "INR"})
    assert v1.status_code == 200, v1.text
    assert rzp(client, "GET", f"/v1/orders/{v1.json()['id']}/").json()["id"] == v1.json()["id"]
    assert rzp(client, "GET", "/v1/orders/").json()["entity"] == "collection"
    # Two slashes are no route.
    assert client.get("/api/v1/orders//").status_code == 404


def test_unknown_fields_are_refused_by_name(client: Client) -> None:
    err = error(client.post("/api/v1/orders", {"amount": 1000, "reciept": "r1"}), 400)
    assert (err["description"], err["param"]) == (
        "Unknown field 'reciept'; did you mean 'receipt'?", "reciept")
    far = error(client.post("/api/v1/orders", {"amount": 1000, "zzz": 1}), 400)
    assert far["description"] == ("Unknown field 'zzz'; this call takes: amount, currency, "
                                  "receipt, notes")
    order = client.order()
    card = error(client.post("/api/v1/payments", {
        "order_id": order["id"], "method": "card", "card": {**CARD, "cvc": "123"}}), 400)
    assert (card["param"], card["description"]) == (
        "card.cvc", "Unknown field 'card.cvc'; did you mean 'card.cvv'?")
    # An unknown order is still a 404 before anything about the body.
    assert client.post("/api/v1/payments", {"order_id": "order_nope", "method": "upi",
                                            "vpa": "a@b", "x": 1}).status_code == 404
    # What the seed's clients send keeps working: the order's amount (and currency).
    seed = client.post("/api/v1/payments", {"order_id": order["id"], "method": "upi",
                                            "vpa": "a@b", "amount": order["amount"],
                                            "currency": "INR"})
    assert seed.status_code == 201, seed.text
    payment = client.wait_payment(seed.json()["id"])
    refund = error(client.post(f"/api/v1/payments/{payment['id']}/refunds",
                               {"amount": 100, "reasn": "x"}), 400)
    assert refund["param"] == "reasn"
    webhook = error(client.post("/api/v1/webhook_endpoints",
                                {"url": "https://example.com/h", "enabled_event": ["*"]}), 400)
    assert (webhook["param"], webhook["description"]) == (
        "enabled_event", "Unknown field 'enabled_event'; did you mean 'enabled_events'?")
