"""Refunds: full and partial, asynchronous, never overdrawn, bad input changes nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
import redis

from paystate.config import Settings
from tests.support import MODES, Client, GatewayPair, ProcessGateway, process_env, wait_until


def paid(client: Client, amount: int = 10000) -> dict[str, Any]:
    order = client.order(amount)
    payment = client.upi_payment(order["id"])
    return client.wait_payment(payment["id"])


def refund_rows(settings: Settings, payment_id: str) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM refunds WHERE payment_id = %s",
                           (payment_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_partial_then_full_refund_processed(client: Client, settings: Settings) -> None:
    payment = paid(client, 10000)
    r1 = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 4000,
                                                                    "reason": "damaged"})
    assert r1.status_code == 201, r1.text
    body = r1.json()
    assert set(body) == {"id", "payment_id", "amount", "reason", "status", "livemode",
                         "created_at",
                         "processed_at"}
    assert body["status"] == "pending" and body["processed_at"] is None
    assert body["id"].startswith("rfnd_") and len(body["id"]) == 21
    r2 = client.post("/api/v1/refunds", {"payment_id": payment["id"], "amount": 6000})
    assert r2.status_code == 201, r2.text
    over = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 1})
    assert over.status_code == 400
    assert over.json()["error"]["description"] == "Refund amount exceeds available amount"

    def processed() -> bool:
        return all(client.get(f"/api/v1/refunds/{r.json()['id']}").json()["status"]
                   == "processed" for r in (r1, r2))
    wait_until(processed, 20, 0.1, "refunds processed")
    got = client.get(f"/api/v1/refunds/{body['id']}").json()
    assert got["processed_at"] is not None
    after = client.get(f"/api/v1/payments/{payment['id']}").json()
    assert after["status"] == "success" and after["amount_refunded"] == 10000
    listed = client.get(f"/api/v1/payments/{payment['id']}/refunds").json()
    assert [r["id"] for r in listed] == [body["id"], r2.json()["id"]]
    hist = client.get(f"/api/v1/refunds/{body['id']}/transitions").json()
    assert [(t["from_state"], t["to_state"]) for t in hist] == [(None, "pending"),
                                                                ("pending", "processed")]
    events = redis.Redis.from_url(settings.redis_url).xrange(f"{settings.stream_prefix}:events")
    names = [f[b"payload"].decode() for _, f in events]
    assert any('"refund.created"' in n and body["id"] in n for n in names)
    assert any('"refund.processed"' in n and body["id"] in n for n in names)


def test_refund_of_pending_or_failed_payment_is_refused(client: Client) -> None:
    order = client.order()
    payment = client.upi_payment(order["id"])
    r = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 100})
    assert r.status_code == 400
    assert r.json()["error"]["description"] == "Payment not in refundable state"


@pytest.mark.parametrize("amount", [0, -5, "100", 10.5, True, None, 10**15])
def test_bad_refund_amounts_write_nothing(client: Client, settings: Settings,
                                          amount: Any) -> None:
    payment = paid(client)
    r = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": amount})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert refund_rows(settings, payment["id"]) == 0


def test_unknown_or_foreign_payment_is_404(client: Client, settings: Settings) -> None:
    r = client.post("/api/v1/payments/pay_0000000000000000/refunds", {"amount": 100})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND_ERROR"
    r = client.post("/api/v1/refunds", {"payment_id": "pay_0000000000000000", "amount": 100})
    assert r.status_code == 404
    assert client.get("/api/v1/refunds/rfnd_0000000000000000").status_code == 404
    # Another merchant's payment is as unknown as a missing one.
    payment = paid(client)
    from paystate.engine.secrets_hash import hash_api_secret
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "WITH m AS (INSERT INTO merchants (id, name, email, webhook_secret, created_at,"
            " updated_at) VALUES (gen_random_uuid(), 'Other', 'other-refunds@x.in', 'whsec_x',"
            " now(), now()) ON CONFLICT DO NOTHING RETURNING id)"
            " INSERT INTO merchant_keys (api_key, merchant_id, mode, secret_hash, created_at)"
            " SELECT 'key_other_refunds', id, 'test', %s, now() FROM m",
            (hash_api_secret("secret_other"),))
    other = Client(client.base, {"X-Api-Key": "key_other_refunds", "X-Api-Secret": "secret_other"})
    r = other.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 100})
    assert r.status_code == 404
    assert other.get(f"/api/v1/payments/{payment['id']}").status_code == 404
    assert refund_rows(settings, payment["id"]) == 0


@pytest.mark.processes
@pytest.mark.parametrize("mode", MODES)
def test_twenty_concurrent_refunds_across_two_processes_never_overdraw(
        settings: Settings, mode: str) -> None:
    env = process_env(settings, TEST_PROCESSING_DELAY="300")
    pair = GatewayPair(env, mode)
    a, b = pair.a, pair.b
    try:
        payment = paid(a.client, 10000)

        def refund(i: int) -> int:
            gw = a if i % 2 else b
            return Client(gw.url).post(f"/api/v1/payments/{payment['id']}/refunds",
                                       {"amount": 6000}).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(refund, range(20)))
        assert sorted(codes) == [201] + [400] * 19
        assert refund_rows(settings, payment["id"]) == 1
    finally:
        pair.stop()


@pytest.mark.processes
def test_refunds_pending_at_kill9_are_processed_after_restart(settings: Settings) -> None:
    env = process_env(settings, TEST_PROCESSING_DELAY="1500")
    gw = ProcessGateway(env).start()
    refund_ids = []
    try:
        for _ in range(5):
            payment = paid(gw.client, 1000)
            r = gw.client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 500})
            assert r.status_code == 201
            refund_ids.append(r.json()["id"])
        gw.kill9()
    finally:
        gw.stop()
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM refunds WHERE id = ANY(%s) AND"
                           " status = 'pending'", (refund_ids,)).fetchone()
    assert row is not None and row[0] >= 1  # the kill came before at least one was processed
    again = ProcessGateway(env).start()
    try:
        def all_processed() -> bool:
            return all(again.client.get(f"/api/v1/refunds/{rid}").json()["status"]
                       == "processed" for rid in refund_ids)
        wait_until(all_processed, 30, 0.2, "refunds processed after restart")
        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute("SELECT entity_id, count(*) FROM transitions WHERE"
                                " entity_id = ANY(%s) AND trigger = 'process' GROUP BY entity_id",
                                (refund_ids,)).fetchall()
        assert {rid: n for rid, n in rows} == {rid: 1 for rid in refund_ids}
    finally:
        again.stop()
