"""Bad input gets a 4xx in the contract's envelope and writes nothing."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from paystate.config import Settings
from tests.support import Client

CARD = {"number": "4111111111111111", "expiry_month": 12, "expiry_year": 2099, "cvv": "123",
        "holder_name": "A"}


def counts(settings: Settings) -> tuple[int, int, int]:
    # Only rows a create would add: settling earlier tests' payments in the background
    # must not look like a write.
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM payments),"
                           " (SELECT count(*) FROM transitions WHERE trigger = 'create')"
                           ).fetchone()
    assert row is not None
    return tuple(row)  # type: ignore[return-value]


def assert_envelope(r: Any, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert {"code", "description", "param", "request_id"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    assert "Traceback" not in r.text


@pytest.mark.parametrize("raw", [b"{bad json", b"[]", b"\"x\"", b"", b"{\"amount\": NaN}",
                                 b"\xff\xfe", b"[" * 5000 + b"]" * 5000])
def test_malformed_order_bodies(client: Client, settings: Settings, raw: bytes) -> None:
    before = counts(settings)
    r = client.request("POST", "/api/v1/orders", data=raw,
                       headers={"Content-Type": "application/json"})
    assert_envelope(r, 400, "BAD_REQUEST_ERROR")
    assert counts(settings) == before


@pytest.mark.parametrize("body", [{"amount": "50000"}, {"amount": 500.5}, {"amount": True},
                                  {"amount": -100}, {"amount": 99}, {"amount": 10**30}, {},
                                  {"amount": 1000, "currency": "USD"},
                                  {"amount": 1000, "notes": "x"},
                                  {"amount": 1000, "receipt": "r" * 1000}])
def test_invalid_order_fields(client: Client, settings: Settings, body: dict[str, Any]) -> None:
    before = counts(settings)
    assert_envelope(client.post("/api/v1/orders", body), 400, "BAD_REQUEST_ERROR")
    assert counts(settings) == before


def test_amount_minimum_message(client: Client) -> None:
    r = client.post("/api/v1/orders", {"amount": 99})
    assert r.json()["error"]["description"] == "amount must be at least 100"


@pytest.mark.parametrize("payment,code", [
    ({"method": "upi", "vpa": "not-a-vpa"}, "INVALID_VPA"),
    ({"method": "upi"}, "INVALID_VPA"),
    ({"method": "card", "card": {**CARD, "number": "4111111111111112"}}, "INVALID_CARD"),
    ({"method": "card", "card": {**CARD, "number": "4111"}}, "INVALID_CARD"),
    ({"method": "card", "card": {**CARD, "expiry_month": 13}}, "EXPIRED_CARD"),
    ({"method": "card", "card": {**CARD, "expiry_year": 2020}}, "EXPIRED_CARD"),
    ({"method": "card", "card": {**CARD, "cvv": 123}}, "BAD_REQUEST_ERROR"),
    ({"method": "card"}, "BAD_REQUEST_ERROR"),
    ({"method": "netbanking"}, "BAD_REQUEST_ERROR"),
    ({"method": ["upi"]}, "BAD_REQUEST_ERROR"),
])
def test_invalid_payments_write_nothing(client: Client, settings: Settings,
                                        payment: dict[str, Any], code: str) -> None:
    order = client.order()
    before = counts(settings)
    r = client.post("/api/v1/payments", {"order_id": order["id"], **payment})
    assert_envelope(r, 400, code)
    assert counts(settings) == before


def test_order_checked_before_method(client: Client, settings: Settings) -> None:
    before = counts(settings)
    r = client.post("/api/v1/payments", {"order_id": "order_nope000000000000", "method": "upi",
                                         "vpa": "bad"})
    assert_envelope(r, 404, "NOT_FOUND_ERROR")
    r = client.post("/api/v1/payments", {"order_id": 42, "method": "upi", "vpa": "a@b"})
    assert_envelope(r, 400, "BAD_REQUEST_ERROR")
    assert counts(settings) == before


def test_authentication(client: Client, settings: Settings) -> None:
    before = counts(settings)
    for headers in ({}, {"X-Api-Key": "key_test_abc123"},
                    {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "wrong"},
                    {"X-Api-Key": "nope", "X-Api-Secret": "secret_test_xyz789"}):
        r = client.request("POST", "/api/v1/orders", auth=False, headers=headers,
                           json={"amount": 1000})
        assert_envelope(r, 401, "AUTHENTICATION_ERROR")
        assert r.json()["error"]["description"] == "Invalid API credentials"
    assert counts(settings) == before


def test_oversized_body_is_413_and_writes_nothing(client: Client, settings: Settings) -> None:
    before = counts(settings)
    big = b'{"amount": 1000, "receipt": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    r = client.request("POST", "/api/v1/orders", data=big,
                       headers={"Content-Type": "application/json"})
    assert_envelope(r, 413, "PAYLOAD_TOO_LARGE")
    assert counts(settings) == before


def test_unknown_paths_methods_and_ids(client: Client) -> None:
    assert_envelope(client.get("/api/v1/nothing-here"), 404, "NOT_FOUND_ERROR")
    assert_envelope(client.request("DELETE", "/api/v1/orders"), 405)
    assert_envelope(client.get("/api/v1/orders/order_doesnotexist00"), 404, "NOT_FOUND_ERROR")
    assert_envelope(client.get("/api/v1/payments/pay_doesnotexist000"), 404, "NOT_FOUND_ERROR")
    assert_envelope(client.get("/api/v1/payments?limit=abc"), 400, "BAD_REQUEST_ERROR")
    assert_envelope(client.get("/api/v1/payments?offset=-1"), 400, "BAD_REQUEST_ERROR")
