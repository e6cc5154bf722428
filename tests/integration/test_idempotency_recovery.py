"""Idempotency keys under concurrency, crashes and time: 50 identical requests in one process
and over two processes create one object; a key abandoned mid-way is completed by a retry with
the object id it had chosen; expired keys are new again and the engine's janitor deletes them."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests

from paystate.config import TEST_MERCHANT_ID, Settings
from paystate.engine.bridge import NewPayment
from paystate.engine.clock import ManualClock
from paystate.engine.commands import Keyed
from paystate.engine.idempotency import Claimed, IdempotencyStore
from paystate.engine.ids import new_id
from paystate.engine.keyed_creates import fingerprint
from paystate.engine.merchants import Merchant
from tests.support import (
    AUTH,
    MODES,
    GatewayPair,
    ThreadGateway,
    make_settings,
    manual_gateway,
    process_env,
)

ORDERS = "/api/v1/orders"


def fire_together(urls: list[str], path: str, body: dict[str, Any], key: str
                  ) -> list[requests.Response]:
    """POST the same request to every url at once (one thread and session each, released
    together by a barrier)."""
    barrier = threading.Barrier(len(urls))

    def one(url: str) -> requests.Response:
        with requests.Session() as session:
            barrier.wait(10)
            return session.post(url + path, json=body, timeout=30,
                                headers={**AUTH, "Idempotency-Key": key})

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(one, urls))


def check_one_object(responses: list[requests.Response]) -> Counter[str]:
    """Every answer is the one 201 body (original or replayed) or a 409 with Retry-After."""
    outcomes: Counter[str] = Counter()
    bodies = set()
    for r in responses:
        if r.status_code == 201:
            bodies.add(r.content)
            outcomes["replayed" if r.headers.get("Idempotent-Replayed") == "true"
                     else "original"] += 1
        else:
            assert r.status_code == 409, r.text
            assert r.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
            assert int(r.headers["Retry-After"]) >= 1
            outcomes["409"] += 1
    assert outcomes["original"] == 1 and len(bodies) == 1, outcomes
    return outcomes


def count(settings: Settings, sql: str, *params: Any) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def abandoned_key(settings: Settings, key: str, path: str, body: dict[str, Any],
                  resource_id: str, now: datetime) -> None:
    """The row a request leaves when its process dies after claiming the key: in progress,
    with its object id chosen and a lease that has run out."""
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, resource_id,"
            " lock_token, locked_until, created_at, expires_at)"
            " VALUES (%s, %s, %s, 'in_progress', %s, 'dead', %s, %s, %s)",
            (TEST_MERCHANT_ID, key, fingerprint("POST", path, body), resource_id,
             now - timedelta(seconds=1), now - timedelta(seconds=30), now + timedelta(hours=23)))


@pytest.fixture
def manual(base_settings: Settings) -> Iterator[tuple[ThreadGateway, ManualClock]]:
    """``manual_gateway``: the test runs the janitor itself."""
    with manual_gateway() as pair:
        yield pair


def test_50_concurrent_identical_requests_create_one_order(gateway: ThreadGateway) -> None:
    receipt = uuid.uuid4().hex[:20]
    started = time.perf_counter()
    responses = fire_together([gateway.url] * 50, ORDERS, {"amount": 7700, "receipt": receipt},
                              f"k-{uuid.uuid4()}")
    elapsed = time.perf_counter() - started
    outcomes = check_one_object(responses)
    assert count(gateway.settings, "SELECT count(*) FROM orders WHERE receipt = %s", receipt) == 1
    print(f"\n50 concurrent, one process: {dict(outcomes)} in {elapsed * 1000:.0f} ms")


@pytest.mark.processes
@pytest.mark.parametrize("mode", MODES)
def test_50_concurrent_identical_payments_over_two_processes(settings: Settings,
                                                             mode: str) -> None:
    env = process_env(settings, TEST_PROCESSING_DELAY="60000")
    pair = GatewayPair(env, mode)
    a, b = pair.a, pair.b
    try:
        order = a.client.order()
        body = {"order_id": order["id"], "method": "upi", "vpa": "shopper@okbank"}
        started = time.perf_counter()
        responses = fire_together([a.url, b.url] * 25, "/api/v1/payments", body,
                                  f"k-{uuid.uuid4()}")
        elapsed = time.perf_counter() - started
        outcomes = check_one_object(responses)
        assert count(settings, "SELECT count(*) FROM payments WHERE order_id = %s",
                     order["id"]) == 1
        pid = next(r.json()["id"] for r in responses if r.status_code == 201)
        created = ("SELECT count(*) FROM outbox WHERE payload->>'event' = 'payment.created'"
                   " AND payload->'data'->'payment'->>'id' = %s")
        assert count(settings, created, pid) == 1  # one payment, so one payment.created
        print(f"\n50 concurrent, two processes: {dict(outcomes)} in {elapsed * 1000:.0f} ms")
        # Tornado's access log writes every 5xx at ERROR: a /health polled while the worker's
        # first heartbeat is still to come answers 503 on purpose. Any other ERROR is a fault.
        errors = [line for line in pair.logs().splitlines()
                  if " ERROR " in line and " tornado.access: " not in line]
        assert not errors, errors[:5]
    finally:
        pair.stop()


def test_retry_completes_a_request_that_died_before_creating(client: Any,
                                                             settings: Settings) -> None:
    key, body = f"k-{uuid.uuid4()}", {"amount": 4200, "receipt": uuid.uuid4().hex[:20]}
    chosen = new_id("order_")
    abandoned_key(settings, key, ORDERS, body, chosen, datetime.now(UTC))
    r = client.post(ORDERS, body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == chosen and "Idempotent-Replayed" not in r.headers
    again = client.post(ORDERS, body, headers={"Idempotency-Key": key})
    assert again.content == r.content and again.headers["Idempotent-Replayed"] == "true"
    assert count(settings, "SELECT count(*) FROM orders WHERE receipt = %s", body["receipt"]) == 1


def test_retry_after_a_crash_past_creation_returns_that_object(gateway: ThreadGateway) -> None:
    """The dead attempt had created the payment (which has since succeeded and paid its order)
    but not stored its response: the retry answers with that payment, creating nothing."""
    assert gateway.runtime is not None and gateway.runtime.engine is not None
    client, settings, engine = gateway.client, gateway.settings, gateway.runtime.engine
    order = client.order()
    key, path = f"k-{uuid.uuid4()}", "/api/v1/payments"
    body = {"order_id": order["id"], "method": "upi", "vpa": "crash@okbank"}
    chosen = new_id("pay_")
    order_obj = gateway.call(engine.order(None, order["id"]))
    gateway.call(engine.create_payment(order_obj, NewPayment("upi", vpa="crash@okbank"),
                                     Keyed(chosen)))
    client.wait_payment(chosen)
    # What a payment of this order writes to the outbox: its events. (The gateway's sweeper
    # may meanwhile settle other tests' leftover payments: not the retry's.)
    written = ("SELECT count(*) FROM outbox WHERE payload->>'order_id' = %s"
               " OR payload->'data'->'payment'->>'order_id' = %s")
    outbox_before = count(settings, written, order["id"], order["id"])
    abandoned_key(settings, key, path, body, chosen, datetime.now(UTC))
    r = client.post(path, body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == chosen and r.json()["status"] == "success"
    assert count(settings, "SELECT count(*) FROM payments WHERE order_id = %s", order["id"]) == 1
    assert count(settings, written, order["id"], order["id"]) == outbox_before
    assert client.post(path, body, headers={"Idempotency-Key": key}).content == r.content


def test_key_in_progress_is_409_then_taken_over_once_its_lease_ends(
        manual: tuple[ThreadGateway, ManualClock]) -> None:
    gw, clock = manual
    engine = gw.runtime.engine  # type: ignore[union-attr]
    store: IdempotencyStore = engine.idempotency
    store.wait = 0.2  # how long a request waits for the holder before its 409
    key, body = f"k-{uuid.uuid4()}", {"amount": 9900}
    # A request claims the key, then its process dies.
    claim = gw.call(store.claim(TEST_MERCHANT_ID, key, fingerprint("POST", ORDERS, body),
                                "order"))
    assert isinstance(claim, Claimed) and not claim.recovered
    busy = gw.client.post(ORDERS, body, headers={"Idempotency-Key": key})
    assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
    assert busy.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
    other = gw.client.post(ORDERS, {"amount": 1}, headers={"Idempotency-Key": key})
    assert other.status_code == 422  # a different request is told at once, even in progress
    clock.advance(store.lease + timedelta(seconds=1))
    done = gw.client.post(ORDERS, body, headers={"Idempotency-Key": key})
    assert done.status_code == 201 and done.json()["id"] == claim.resource_id
    # The dead holder's late completion (had it lived) would replay the stored answer.
    late = gw.call(store.complete(claim, 201, b"{}"))
    assert late.replayed and late.body == done.content


def test_expired_key_is_new_and_the_janitor_deletes_it(
        manual: tuple[ThreadGateway, ManualClock]) -> None:
    gw, clock = manual
    assert gw.runtime is not None and gw.runtime.idempotency_janitor is not None
    janitor = gw.runtime.idempotency_janitor
    key, kept = f"k-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
    first = gw.client.post(ORDERS, {"amount": 1000}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    clock.advance(timedelta(hours=24, seconds=1))
    # Expired: a new key, whatever the body; the janitor has not even run.
    reused = gw.client.post(ORDERS, {"amount": 2000}, headers={"Idempotency-Key": key})
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused.headers
    assert reused.json()["id"] != first.json()["id"]
    clock.advance(timedelta(hours=23))
    janitor.sweep_once()
    rows = "SELECT count(*) FROM idempotency_keys WHERE key = %s"
    assert count(gw.settings, rows, key) == 1
    assert gw.client.post(ORDERS, {"amount": 3000},
                          headers={"Idempotency-Key": kept}).status_code == 201
    clock.advance(timedelta(hours=1, seconds=1))  # the second use of `key` is 24 h old now
    assert janitor.sweep_once() >= 1
    assert count(gw.settings, rows, key) == 0 and count(gw.settings, rows, kept) == 1
    gone = gw.client.post(ORDERS, {"amount": 2000}, headers={"Idempotency-Key": key})
    assert gone.status_code == 201 and gone.json()["id"] not in (first.json()["id"],
                                                                  reused.json()["id"])


def test_two_engines_creating_one_known_id_make_one_object(base_settings: Settings) -> None:
    """Two holders of one key in two processes (a lease taken over from a live but slow
    holder) both create with the same id: one inserts, the other finds it. No error."""
    a = ThreadGateway(make_settings(), start_background=False).start()
    b = ThreadGateway(make_settings(), start_background=False).start()
    merchant = Merchant(TEST_MERCHANT_ID, "Test Merchant", "test@example.com", "key", "w")
    try:
        ids = [new_id("order_") for _ in range(20)]

        def create(gw: ThreadGateway, order_id: str) -> str:
            engine = gw.runtime.engine  # type: ignore[union-attr]
            return str(gw.call(engine.create_order(merchant, 1000, "INR", None, {},
                                                 Keyed(order_id, may_exist=True))).id)

        with ThreadPoolExecutor(2) as pool:
            for order_id in ids:
                got = list(pool.map(create, (a, b), (order_id, order_id)))
                assert got == [order_id, order_id]
        assert count(base_settings, "SELECT count(*) FROM orders WHERE id = ANY(%s)", ids) == 20
        assert count(base_settings, "SELECT count(*) FROM transitions WHERE entity_id = ANY(%s)",
                     ids) == 20
    finally:
        a.stop()
        b.stop()
