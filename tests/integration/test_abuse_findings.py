"""The findings of an attacker's and a careless client's look at the public surface, one test
each: rate limits every process shares, idempotency fingerprints that see the whole card, and
inputs that used to answer 500, change type or slip through."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
import requests

from paystate.config import Settings
from tests.support import Client, ThreadGateway, make_settings

CARD = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2099, "cvv": "123",
        "holder_name": "Asha"}


@pytest.fixture
def limited_pair(base_settings: Settings) -> Iterator[tuple[ThreadGateway, ThreadGateway]]:
    """Two gateways over one Redis with small public limits: what one counts, both see."""
    settings = make_settings(public_rate_limit="8/minute", public_order_rate_limit="5/minute",
                             public_payment_rate_limit="3/minute")
    a, b = ThreadGateway(settings).start(), ThreadGateway(settings).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_public_order_view_is_limited_per_order_across_processes(
        limited_pair: tuple[ThreadGateway, ThreadGateway]) -> None:
    a, b = limited_pair
    order = a.client.order()
    path = f"/api/v1/orders/{order['id']}/public"
    codes = [gw.client.get(path, auth=False).status_code for gw in (a, b, a, b, a, b)]
    assert codes == [200] * 5 + [429]
    refused = b.client.get(path, auth=False)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Another order is not held back by this one's limit...
    other = a.client.order()
    assert a.client.get(f"/api/v1/orders/{other['id']}/public", auth=False).status_code == 200
    # ...until the client address itself is over its limit (8 per minute, 9 asked).
    assert b.client.get(f"/api/v1/orders/{other['id']}/public", auth=False).status_code == 429


def test_public_payments_are_limited_per_client_address(
        limited_pair: tuple[ThreadGateway, ThreadGateway]) -> None:
    a, b = limited_pair
    orders = [a.client.order() for _ in range(4)]
    codes = [gw.client.post("/api/v1/payments/public",
                            {"order_id": o["id"], "method": "upi", "vpa": "s@ok"},
                            auth=False).status_code
             for gw, o in zip((a, b, a, b), orders, strict=True)]
    assert codes == [201, 201, 201, 429]
    # The merchant API does not share the public limits.
    assert a.client.upi_payment(orders[3]["id"])["status"] == "pending"


def test_merchant_api_has_a_per_key_limit(base_settings: Settings) -> None:
    gw = ThreadGateway(make_settings(merchant_rate_limit="5/minute")).start()
    try:
        codes = [gw.client.get("/api/v1/payments?limit=1").status_code for _ in range(7)]
        assert codes == [200] * 5 + [429, 429]
        refused = gw.client.get("/api/v1/payments?limit=1")
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["Retry-After"]) > 0
    finally:
        gw.stop()


def test_same_key_another_card_with_the_same_last4_is_422(client: Client) -> None:
    order = client.order()
    key = uuid.uuid4().hex
    body = {"order_id": order["id"], "method": "card", "card": CARD}
    first = client.post("/api/v1/payments", body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    # Another network (Mastercard), another CVV, the same last four digits.
    other = {**CARD, "number": "5500 0000 0000 1111", "cvv": "999"}
    assert other["number"][-4:] == CARD["number"][-4:]
    second = client.post("/api/v1/payments", {**body, "card": other},
                         headers={"Idempotency-Key": key})
    assert second.status_code == 422, second.text
    assert second.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    replay = client.post("/api/v1/payments", body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("url", ["http://[::1", "http://[zz]/", "http://]/", "http://a..b/",
                                 "http://exa mple.com/", "http://h:99999/", "ftp://h.com/"])
def test_malformed_webhook_urls_are_400(client: Client, url: str) -> None:
    r = client.put("/api/v1/merchant/webhook", {"url": url})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"


@pytest.mark.parametrize("notes", [{"n": 1e308}, {"n": 10**47}, {"n": 1.5}, {"s": "x" * 257},
                                   {"n": -(2**53)}, {"": "empty key"}, {"l": [1]}])
def test_notes_that_would_change_or_overflow_are_400(client: Client, notes: dict[str, object],
                                                     settings: Settings) -> None:
    r = client.post("/api/v1/orders", {"amount": 500, "notes": notes})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_notes_come_back_as_they_were_sent(client: Client) -> None:
    notes = {"int": 2**53 - 1, "neg": -(2**53 - 1), "s": "x" * 256, "b": True}
    order = client.order(notes=notes)
    assert client.get(f"/api/v1/orders/{order['id']}").json()["notes"] == notes


def test_empty_currency_is_400_and_absent_currency_is_inr(client: Client) -> None:
    r = client.post("/api/v1/orders", {"amount": 500, "currency": ""})
    assert r.status_code == 400 and "currency" in r.json()["error"]["description"]
    assert client.order()["currency"] == "INR"


@pytest.mark.parametrize("query", ["limit=５", "offset=٣", "limit=²", "limit=1e3"])
def test_non_ascii_digits_in_query_numbers_are_400(client: Client, query: str) -> None:
    r = client.get("/api/v1/payments?" + query)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def raw_request(base: str, head: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_control_character_in_a_header_is_answered_in_the_envelope(client: Client) -> None:
    body = b'{"amount": 500}'
    answer = raw_request(client.base, (
        b"POST /api/v1/orders HTTP/1.1\r\nHost: t\r\nX-Api-Key: key_test_abc123\r\n"
        b"X-Api-Secret: secret_test_xyz789\r\nContent-Type: application/json\r\n"
        b"Idempotency-Key: ab\x7fcd\r\nContent-Length: %d\r\n\r\n" % len(body)) + body)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"application/json" in head
    assert requests.models.complexjson.loads(payload)["error"]["code"] == "BAD_REQUEST_ERROR"


def test_unprintable_idempotency_key_is_400(client: Client) -> None:
    # Tornado lets a tab through in a header value; the key check refuses it.
    r = client.post("/api/v1/orders", {"amount": 500}, headers={"Idempotency-Key": "a\tb"})
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["error"]["description"]


def test_the_checkout_page_is_limited_with_the_public_api(
        limited_pair: tuple[ThreadGateway, ThreadGateway]) -> None:
    a, b = limited_pair
    order = a.client.order()
    codes = [gw.client.get(f"/checkout?order_id={order['id']}", auth=False).status_code
             for gw in (a, b, a, b, a, b)]
    assert codes == [200] * 5 + [429]
