"""At most one payment per order ever succeeds: the rule that keeps an order from being paid
many times (it was: 200 public payments on one order, 200 successes)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
import requests

from paystate.config import Settings
from tests.support import Client, ThreadGateway, make_settings, wait_until


def public_pay(base: str, order_id: str, i: int) -> requests.Response:
    body: dict[str, Any] = {"order_id": order_id, "method": "upi", "vpa": f"shopper{i}@okbank"}
    return requests.post(base + "/api/v1/payments/public", json=body, timeout=30)


def order_payments(settings: Settings, order_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(settings.database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT id, status, error_code, captured FROM payments"
                            " WHERE order_id = %s", (order_id,)).fetchall()


def order_row(settings: Settings, order_id: str) -> dict[str, Any]:
    with psycopg.connect(settings.database_url, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute("SELECT status, paid_payment_id FROM orders WHERE id = %s",
                           (order_id,)).fetchone()
        paid = conn.execute("SELECT count(*) AS n FROM transitions WHERE entity_id = %s"
                            " AND trigger = 'mark_paid'", (order_id,)).fetchone()
    assert row is not None and paid is not None
    return {**row, "times_paid": paid["n"]}


def settled(settings: Settings, order_id: str, expected: int) -> list[dict[str, Any]] | None:
    rows = order_payments(settings, order_id)
    done = [r for r in rows if r["status"] != "pending"]
    return rows if len(rows) == expected and len(done) == expected else None


@pytest.fixture
def uncapped(base_settings: Settings) -> Iterator[ThreadGateway]:
    """Attempt cap and limits out of the way: every payment reaches the shard."""
    gw = ThreadGateway(make_settings(public_payment_attempts=10_000, shards=8)).start()
    try:
        yield gw
    finally:
        gw.stop()


def test_200_concurrent_public_payments_one_success(uncapped: ThreadGateway) -> None:
    settings = uncapped.settings
    order = uncapped.client.order(100_000)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: public_pay(uncapped.url, order["id"], i), range(200)))
    created = [r for r in answers if r.status_code == 201]
    refused = [r for r in answers if r.status_code == 400]
    assert len(created) + len(refused) == 200, {r.status_code for r in answers}
    # Refused ones came after the order was paid, and say so.
    assert all(r.json()["error"]["description"] == "Order is already paid" for r in refused)
    rows = wait_until(lambda: settled(settings, order["id"], len(created)), 30, 0.2,
                      "every payment to settle")
    successes = [r for r in rows if r["status"] == "success"]
    declined = [r for r in rows if r["status"] == "failed"]
    assert len(successes) == 1
    assert len(declined) == len(created) - 1
    assert {r["error_code"] for r in declined} <= {"ORDER_ALREADY_PAID"}
    assert order_row(settings, order["id"]) == {
        "status": "paid", "paid_payment_id": successes[0]["id"],
        "times_paid": 1}
    loser = declined[0]["id"] if declined else None
    if loser is not None:
        body = uncapped.client.get(f"/api/v1/payments/{loser}").json()
        assert body["error_code"] == "ORDER_ALREADY_PAID" and body["status"] == "failed"


def test_attempt_cap_refuses_the_rest_with_429(base_settings: Settings) -> None:
    # Payments settle after 3 s here, so that all 200 arrive while the first ones are pending.
    gw = ThreadGateway(make_settings(test_processing_delay_ms=3000)).start()
    try:
        settings = gw.settings
        order = gw.client.order(100_000)
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda i: public_pay(gw.url, order["id"], i), range(200)))
        codes = [r.status_code for r in answers]
        limited = [r for r in answers if r.status_code == 429]
        assert codes.count(201) == settings.public_payment_attempts == 10
        # The rest are over the cap (429), or came after the first success paid the order.
        assert len(limited) + codes.count(400) == 190 and len(limited) > 0
        assert all(r.json()["error"]["code"] == "RATE_LIMITED"
                   and int(r.headers["Retry-After"]) > 0 for r in limited)
        rows = wait_until(lambda: settled(settings, order["id"], 10), 30, 0.2, "settlement")
        assert sorted(r["status"] for r in rows) == ["failed"] * 9 + ["success"]
        assert order_row(settings, order["id"])["times_paid"] == 1
    finally:
        gw.stop()


def test_merchant_and_public_payment_race_one_success_other_not_capturable(
        base_settings: Settings) -> None:
    gw = ThreadGateway(make_settings(test_processing_delay_ms=600)).start()
    try:
        c = gw.client
        order = c.order(50_000)
        merchant = c.upi_payment(order["id"])
        card = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2099,
                "cvv": "123", "holder_name": "Asha"}
        public = c.post("/api/v1/payments/public", {"order_id": order["id"], "method": "card",
                                                    "card": card}, auth=False)
        assert public.status_code == 201, public.text
        a, b = c.wait_payment(merchant["id"]), c.wait_payment(public.json()["id"])
        outcomes = sorted([a["status"], b["status"]])
        assert outcomes == ["failed", "success"]
        winner, loser = (a, b) if a["status"] == "success" else (b, a)
        assert loser["error_code"] == "ORDER_ALREADY_PAID"
        refused = c.post(f"/api/v1/payments/{loser['id']}/capture", {})
        assert refused.status_code == 400
        assert refused.json()["error"]["description"] == "Payment not in capturable state"
        captured = c.post(f"/api/v1/payments/{winner['id']}/capture", {})
        assert captured.status_code == 200 and captured.json()["captured"] is True
        # The order takes no new payment, in the machine's own words.
        again = c.post("/api/v1/payments", {"order_id": order["id"], "method": "upi",
                                            "vpa": "x@y"})
        assert again.status_code == 400
        assert again.json()["error"]["description"] == "Order is already paid"
    finally:
        gw.stop()


def test_capture_refuses_a_second_success_left_from_before_the_rule(
        client: Client, settings: Settings) -> None:
    """A database from before the rule may hold an order with two successful payments (the
    migration then skips its unique index): only the payment that paid the order captures."""
    order = client.order(20_000)
    first = client.wait_payment(client.upi_payment(order["id"])["id"])
    assert first["status"] == "success"
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("DROP INDEX payments_one_success_per_order")
        try:
            conn.execute(
                "INSERT INTO payments SELECT 'pay_legacy' || substr(md5(random()::text), 1, 6),"
                " order_id, merchant_id, amount, currency, method, vpa, card_network,"
                " card_last4, status, captured, error_code, error_description,"
                " amount_refunded, amount_refund_pending, settle_due_at, version, created_at,"
                " updated_at FROM payments WHERE id = %s RETURNING id", (first["id"],))
            legacy = conn.execute("SELECT id FROM payments WHERE order_id = %s AND id <> %s",
                                  (order["id"], first["id"])).fetchone()
            assert legacy is not None
            refused = client.post(f"/api/v1/payments/{legacy[0]}/capture", {})
            assert refused.status_code == 400
            assert refused.json()["error"]["description"] == "Payment not in capturable state"
            assert client.post(f"/api/v1/payments/{first['id']}/capture", {}).status_code == 200
        finally:
            conn.execute("DELETE FROM transitions WHERE entity_id LIKE 'pay_legacy%%'")
            conn.execute("DELETE FROM payments WHERE id LIKE 'pay_legacy%%'")
            conn.execute("CREATE UNIQUE INDEX payments_one_success_per_order ON payments"
                         " (order_id) WHERE status = 'success'")
