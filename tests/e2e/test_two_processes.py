"""Two gateway processes over one PostgreSQL and one Redis: PostgreSQL's compare-and-set is the
arbiter, so conflicting transitions have exactly one winner."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from paystate.config import Settings
from tests.support import MODES, Client, GatewayPair, ProcessGateway, process_env, wait_until


@pytest.fixture(params=MODES)
def two_gateways(settings: Settings,
                 request: pytest.FixtureRequest) -> Iterator[tuple[ProcessGateway, ProcessGateway]]:
    env = process_env(settings, TEST_PROCESSING_DELAY="300", PUBLIC_PAYMENT_ATTEMPTS="1000",
                      PUBLIC_RATE_LIMIT="100000/minute", PUBLIC_ORDER_RATE_LIMIT="100000/minute",
                      PUBLIC_PAYMENT_RATE_LIMIT="100000/minute")
    pair = GatewayPair(env, request.param)
    try:
        yield pair.a, pair.b
    finally:
        pair.stop()


def test_conflicting_captures_from_two_processes_one_wins(
        settings: Settings, two_gateways: tuple[ProcessGateway, ProcessGateway]) -> None:
    a, b = two_gateways
    order = a.client.order()
    payment = a.client.upi_payment(order["id"])
    b.client.wait_payment(payment["id"])

    def capture(client: Client) -> int:
        return client.post(f"/api/v1/payments/{payment['id']}/capture", {}).status_code

    with ThreadPoolExecutor(16) as pool:
        clients = [Client(gw.url) for gw in (a, b) for _ in range(8)]
        codes = list(pool.map(capture, clients))
    assert sorted(codes) == [200] + [400] * 15
    history = a.client.get(f"/api/v1/payments/{payment['id']}/transitions").json()
    assert [t["trigger"] for t in history].count("capture") == 1


def test_two_workers_settle_each_payment_exactly_once(
        settings: Settings, two_gateways: tuple[ProcessGateway, ProcessGateway]) -> None:
    a, b = two_gateways
    ids = []
    for i in range(20):
        gw = a if i % 2 else b
        ids.append(gw.client.upi_payment(gw.client.order()["id"])["id"])
    with psycopg.connect(settings.database_url) as conn:
        def settled() -> bool:
            row = conn.execute("SELECT count(*) FROM payments WHERE id = ANY(%s)"
                               " AND status <> 'pending'", (ids,)).fetchone()
            return bool(row and row[0] == len(ids))
        wait_until(settled, 30, 0.1, "settlement")
        rows = conn.execute("SELECT entity_id, count(*) FROM transitions WHERE entity_id = ANY(%s)"
                            " GROUP BY entity_id", (ids,)).fetchall()
    assert {pid: n for pid, n in rows} == {pid: 2 for pid in ids}


def test_200_public_payments_through_two_processes_one_success(
        settings: Settings, two_gateways: tuple[ProcessGateway, ProcessGateway]) -> None:
    """Both processes create and settle payments of one order (each runs shards and a
    worker); the order's compare-and-set lets exactly one of them succeed."""
    a, b = two_gateways
    order = a.client.order(100_000)

    def pay(i: int) -> int:
        gw = (a, b)[i % 2]
        return requests.post(gw.url + "/api/v1/payments/public", timeout=30, json={
            "order_id": order["id"], "method": "upi", "vpa": f"s{i}@ok"}).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(pay, range(200)))
    assert set(codes) <= {201, 400} and codes.count(201) >= 2, codes
    with psycopg.connect(settings.database_url) as conn:
        def final() -> list[tuple[str, str | None]] | None:
            rows = conn.execute("SELECT status, error_code FROM payments WHERE order_id = %s",
                                (order["id"],)).fetchall()
            return rows if all(s != "pending" for s, _ in rows) else None
        rows = wait_until(final, 30, 0.2, "settlement")
        paid = conn.execute("SELECT count(*) FROM transitions WHERE entity_id = %s"
                            " AND trigger = 'mark_paid'", (order["id"],)).fetchone()
    assert len(rows) == codes.count(201)
    assert [s for s, _ in rows].count("success") == 1
    assert {e for s, e in rows if s == "failed"} == {"ORDER_ALREADY_PAID"}
    assert paid is not None and paid[0] == 1
