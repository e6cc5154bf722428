"""Idempotency-Key on every creating POST (docs/api.md), through the HTTP API against
real PostgreSQL and Redis: replays are byte-identical and change nothing, a reused key with
another request is 422, a refused request frees its key, keys are scoped per merchant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import redis
import requests

from paystate.config import TEST_MERCHANT_ID, Settings
from paystate.engine.merchants import create_merchant
from paystate.engine.streams import StreamNames
from tests.support import Client, ThreadGateway, make_settings, wait_until

CARD = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2099,
        "cvv": "123", "holder_name": "Asha"}


def new_key() -> str:
    return f"idem-{uuid.uuid4()}"


def post(client: Client, path: str, body: Any, key: str | None, auth: bool = True
         ) -> requests.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(path, body, headers=headers, auth=auth)


def counts(settings: Settings) -> dict[str, int]:
    """Rows and stream entries that any creation would add to."""
    streams = StreamNames(settings.stream_prefix)
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM orders) AS orders,"
            " (SELECT count(*) FROM payments) AS payments,"
            " (SELECT count(*) FROM refunds) AS refunds,"
            " (SELECT count(*) FROM outbox) AS outbox,"
            " (SELECT count(*) FROM transitions) AS transitions").fetchone()
    assert row is not None
    r = redis.Redis.from_url(settings.redis_url)
    try:
        found = dict(zip(("orders", "payments", "refunds", "outbox", "transitions"), row,
                         strict=True))
        for name in ("events", "payment_jobs", "refund_jobs"):
            found[name] = int(r.xlen(getattr(streams, name)))
    finally:
        r.close()
    return found


@pytest.fixture
def slow_gateway(base_settings: Settings) -> Iterator[ThreadGateway]:
    """A gateway without its background workers (no settlement, sweeper or relay), so that
    nothing but the requests under test can change the counts."""
    gw = ThreadGateway(make_settings(), start_background=False).start()
    try:
        yield gw
    finally:
        gw.stop()


def test_order_replay_is_byte_identical_and_creates_nothing(slow_gateway: ThreadGateway
                                                           ) -> None:
    client, settings = slow_gateway.client, slow_gateway.settings
    key = new_key()
    body = {"amount": 50000, "receipt": "r-idem", "notes": {"b": 1, "a": "x"}}
    first = post(client, "/api/v1/orders", body, key)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    before = counts(settings)
    # The same body with its keys in another order is the same request.
    again = post(client, "/api/v1/orders", {"notes": {"a": "x", "b": 1}, "receipt": "r-idem",
                                            "amount": 50000}, key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == "application/json"
    assert again.content == first.content
    assert counts(settings) == before


def test_payment_replay_enqueues_nothing_and_emits_no_event(slow_gateway: ThreadGateway
                                                           ) -> None:
    client, settings = slow_gateway.client, slow_gateway.settings
    order = client.order()
    key = new_key()
    body = {"order_id": order["id"], "method": "card", "card": CARD}
    first = post(client, "/api/v1/payments", body, key)
    assert first.status_code == 201, first.text
    # The original did publish (after its commit, so perhaps just after its answer).
    wait_until(lambda: (c := counts(settings))["payment_jobs"] >= 1 and c["events"] >= 2)
    before = counts(settings)
    for _ in range(3):
        again = post(client, "/api/v1/payments", body, key)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == first.content
    assert counts(settings) == before
    assert "4111111111111111" not in first.text


def test_same_key_with_another_body_or_endpoint_is_422(client: Client) -> None:
    key = new_key()
    assert post(client, "/api/v1/orders", {"amount": 10000}, key).status_code == 201
    for path, body in (("/api/v1/orders", {"amount": 10001}),
                       ("/api/v1/orders", {"amount": 10000, "receipt": "x"}),
                       ("/api/v1/payments", {"amount": 10000})):
        r = post(client, path, body, key)
        assert r.status_code == 422, (path, body, r.text)
        assert r.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert r.json()["error"]["description"]


def test_key_must_be_1_to_255_characters(client: Client, settings: Settings) -> None:
    before = counts(settings)["orders"]
    for bad in ("", "k" * 256):
        r = post(client, "/api/v1/orders", {"amount": 10000}, bad)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert counts(settings)["orders"] == before
    longest = "k" * 254 + uuid.uuid4().hex[:1]
    ok = post(client, "/api/v1/orders", {"amount": 10000}, longest)
    assert ok.status_code == 201
    assert post(client, "/api/v1/orders", {"amount": 10000}, longest).content == ok.content


def test_a_refused_request_is_not_stored_and_its_key_can_be_retried(client: Client) -> None:
    key = new_key()
    refused = post(client, "/api/v1/orders", {"amount": 50}, key)
    assert refused.status_code == 400
    assert refused.json()["error"]["description"] == "amount must be at least 100"
    fixed = post(client, "/api/v1/orders", {"amount": 5000}, key)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    replay = post(client, "/api/v1/orders", {"amount": 5000}, key)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.content == fixed.content


def test_keys_are_scoped_per_merchant(client: Client, settings: Settings) -> None:
    other_id = str(uuid.uuid4())
    api_key, secret = f"key_{uuid.uuid4().hex[:12]}", "secret_other"
    now = datetime.now(UTC)
    create_merchant(settings.database_url, name="Other", email=f"{api_key}@example.com",
                    api_key=api_key, api_secret=secret, now=now, webhook_secret="whsec_x",
                    merchant_id=other_id)
    other = Client(client.base, {"X-Api-Key": api_key, "X-Api-Secret": secret})
    key = new_key()
    mine = post(client, "/api/v1/orders", {"amount": 10000}, key)
    theirs = post(other, "/api/v1/orders", {"amount": 10000}, key)
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["merchant_id"] == other_id != TEST_MERCHANT_ID


def test_payment_key_is_checked_before_the_order(client: Client) -> None:
    """Validation order: idempotency, then order (404), then method: a replay answers 201 even
    once the order is paid, which a new payment for it would be refused (400)."""
    order = client.order()
    key = new_key()
    body = {"order_id": order["id"], "method": "upi", "vpa": "shopper@okbank"}
    first = post(client, "/api/v1/payments", body, key)
    assert first.status_code == 201
    client.wait_payment(first.json()["id"])
    assert client.get(f"/api/v1/orders/{order['id']}").json()["status"] == "paid"
    replay = post(client, "/api/v1/payments", body, key)
    assert replay.status_code == 201 and replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    missing = post(client, "/api/v1/payments", {**body, "order_id": "order_nonexistent000"},
                   new_key())
    assert missing.status_code == 404


def test_public_payment_keys_live_apart_from_the_merchants_keys(client: Client) -> None:
    """A shopper's key neither blocks nor reveals the merchant's own use of the same key: it
    lives in its order's namespace (it used to share the merchant's, and the merchant's next
    order with that key answered 422 for 24 h)."""
    order = client.order()
    key = new_key()
    body = {"order_id": order["id"], "method": "upi", "vpa": "x@y"}
    first = post(client, "/api/v1/payments/public", body, key, auth=False)
    assert first.status_code == 201, first.text
    replay = post(client, "/api/v1/payments/public", body, key, auth=False)
    assert replay.content == first.content and replay.headers["Idempotent-Replayed"] == "true"
    # The merchant's own requests with that key: new objects, never the shopper's response.
    merchant_order = post(client, "/api/v1/orders", {"amount": 500}, key)
    assert merchant_order.status_code == 201 and "Idempotent-Replayed" not in \
        merchant_order.headers
    # (Payments settle in 200 ms here: each payment gets an order that is not paid yet.)
    key2 = new_key()
    shop_order, merchant_order2 = client.order(), client.order()
    assert post(client, "/api/v1/payments/public", {**body, "order_id": shop_order["id"]}, key2,
                auth=False).status_code == 201
    merchant_payment = post(client, "/api/v1/payments",
                            {**body, "order_id": merchant_order2["id"]}, key2)
    assert merchant_payment.status_code == 201, merchant_payment.text
    assert "Idempotent-Replayed" not in merchant_payment.headers
    assert merchant_payment.json()["id"] != first.json()["id"]
    # The same key on another order's checkout is that order's own.
    other = client.order()
    elsewhere = post(client, "/api/v1/payments/public", {**body, "order_id": other["id"]}, key,
                     auth=False)
    assert elsewhere.status_code == 201 and elsewhere.json()["order_id"] == other["id"]
    unknown = post(client, "/api/v1/payments/public",
                   {**body, "order_id": "order_nonexistent000"}, new_key(), auth=False)
    assert unknown.status_code == 404
    payments = client.get("/api/v1/payments?limit=1000").json()
    assert [p["id"] for p in payments if p["order_id"] == order["id"]] == [first.json()["id"]]


def test_refund_keys_on_both_refund_endpoints(client: Client, settings: Settings) -> None:
    order = client.order(10000)
    payment = client.wait_payment(client.upi_payment(order["id"])["id"])
    nested = f"/api/v1/payments/{payment['id']}/refunds"
    key_a, key_b = new_key(), new_key()
    a1 = post(client, nested, {"amount": 3000}, key_a)
    b1 = post(client, "/api/v1/refunds", {"payment_id": payment["id"], "amount": 3000}, key_b)
    assert a1.status_code == b1.status_code == 201, (a1.text, b1.text)
    before = counts(settings)
    a2 = post(client, nested, {"amount": 3000}, key_a)
    b2 = post(client, "/api/v1/refunds", {"payment_id": payment["id"], "amount": 3000}, key_b)
    assert (a2.content, b2.content) == (a1.content, b1.content)
    assert a2.headers["Idempotent-Replayed"] == b2.headers["Idempotent-Replayed"] == "true"
    after = counts(settings)
    assert (after["refunds"], after["refund_jobs"]) == (before["refunds"], before["refund_jobs"])
    refunds = client.get(f"{nested}").json()
    assert sorted(r["id"] for r in refunds) == sorted((a1.json()["id"], b1.json()["id"]))
    reused = post(client, nested, {"amount": 1000}, key_a)
    assert reused.status_code == 422
