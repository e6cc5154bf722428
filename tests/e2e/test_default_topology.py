"""Capture and refund in the layout ``make run`` starts (two HTTP processes and a worker): the
process that answers a capture or a refund is rarely the one that settled the payment, so a
refusal decided on a process's own copy of the payment would refuse them all."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import razorpay
from psycopg.rows import dict_row

from paystate.config import Settings
from tests.support import AUTH, ROOT, Client, FreshConnections, ProcessGateway, wait_until

DELAY = timedelta(milliseconds=300)  # TEST_PROCESSING_DELAY of tests.support.deployed_env
NODE_MODULES = os.path.join(ROOT, ".paystate", "node", "node_modules")


def pay_capture_refund(client: Client) -> dict[str, Any]:
    """Order, UPI payment, and as soon as ``GET`` says success: capture, then a partial refund.
    Returns the answers' status codes and the refund."""
    order = client.order(50000)
    payment = client.upi_payment(order["id"])
    assert client.wait_payment(payment["id"])["status"] == "success"
    capture = client.post(f"/api/v1/payments/{payment['id']}/capture", {})
    refund = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 1000})
    return {"capture": (capture.status_code, capture.text),
            "refund": (refund.status_code, refund.text),
            "refund_id": refund.json().get("id") if refund.status_code == 201 else None}


@pytest.mark.parametrize("connections", ["reused", "fresh"])
def test_every_capture_and_refund_is_accepted_and_settles_in_time(
        deployed: ProcessGateway, deployed_settings: Settings, connections: str) -> None:
    def one(_i: int) -> dict[str, Any]:
        client = Client(deployed.url) if connections == "reused" else FreshConnections(
            deployed.url)
        return pay_capture_refund(client)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(50)))
    refused = [r for r in results if r["capture"][0] != 200 or r["refund"][0] != 201]
    assert not refused, f"{len(refused)} of 50 refused, first: {refused[0]}"

    ids = [r["refund_id"] for r in results]
    client = Client(deployed.url)
    wait_until(lambda: all(client.get(f"/api/v1/refunds/{i}").json()["status"] == "processed"
                           for i in ids), 10, 0.2, "every refund to be processed")
    with psycopg.connect(deployed_settings.database_url, row_factory=dict_row) as conn:
        late = conn.execute(
            "SELECT id, processed_at - created_at AS took FROM refunds WHERE id = ANY(%s)"
            " AND processed_at - created_at > %s", (ids, DELAY + timedelta(seconds=1))).fetchall()
        processed = conn.execute("SELECT count(*) AS n FROM refunds WHERE id = ANY(%s)"
                                 " AND status = 'processed'", (ids,)).fetchone()
    assert processed == {"n": 50}
    assert not late, f"refunds processed later than their delay plus a second: {late[:3]}"


def test_no_payment_or_refund_stays_pending_past_twice_its_due_time(
        deployed: ProcessGateway, deployed_settings: Settings) -> None:
    """After the load above (or on its own), nothing the worker owns is left behind."""
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda _i: pay_capture_refund(Client(deployed.url)), range(10)))
    now = datetime.now().astimezone()
    with psycopg.connect(deployed_settings.database_url, row_factory=dict_row) as conn:
        def overdue() -> list[dict[str, Any]]:
            return conn.execute(
                "SELECT id, status, settle_due_at FROM payments WHERE status = 'pending'"
                " AND created_at <= %(now)s AND settle_due_at + (settle_due_at - created_at)"
                "  < now()"
                " UNION ALL SELECT id, status, settle_due_at FROM refunds WHERE status = 'pending'"
                " AND created_at <= %(now)s AND settle_due_at + (settle_due_at - created_at)"
                "  < now()", {"now": now}).fetchall()
        # Whatever was created before ``now`` is due by now + DELAY at the latest.
        wait_until(lambda: datetime.now().astimezone() > now + 2 * DELAY, 5, 0.05, "due times")
        assert overdue() == []


@pytest.fixture
def rzp(deployed: ProcessGateway) -> Iterator[razorpay.Client]:
    yield razorpay.Client(auth=(AUTH["X-Api-Key"], AUTH["X-Api-Secret"]), base_url=deployed.url)


def test_razorpay_python_client_captures_and_refunds(rzp: razorpay.Client) -> None:
    for i in range(10):
        order = rzp.order.create({"amount": 50000, "currency": "INR", "receipt": f"topo_{i}"})
        paid = rzp.payment.createUpi({
            "amount": 50000, "currency": "INR", "order_id": order["id"], "method": "upi",
            "email": "shopper@example.com", "contact": "9000090000",
            "upi": {"flow": "collect", "vpa": "shopper@okbank", "expiry_time": "5"}})
        payment_id = paid["razorpay_payment_id"]
        wait_until(lambda p=payment_id: rzp.payment.fetch(p)["status"] == "authorized", 10,
                   0.05, "authorized")
        captured = rzp.payment.capture(payment_id, 50000, {"currency": "INR"})
        assert (captured["status"], captured["captured"]) == ("captured", True)
        refund = rzp.payment.refund(payment_id, {"amount": 1000})
        assert refund["status"] == "pending"
        wait_until(lambda r=refund["id"]: rzp.refund.fetch(r)["status"] == "processed",
                   (DELAY + timedelta(seconds=1)).total_seconds(), 0.05, "refund processed")


def test_razorpay_node_client_captures_and_refunds(deployed: ProcessGateway) -> None:
    """The official Node client's whole flow (tests/razorpay_node/flow.js): it captures and
    refunds right after the payment reads authorized, and waits for the refund to process."""
    env = {**os.environ, "NODE_PATH": NODE_MODULES, "BASE_URL": deployed.url,
           "KEY_ID": AUTH["X-Api-Key"], "KEY_SECRET": AUTH["X-Api-Secret"]}
    for _ in range(3):
        run = subprocess.run(["node", os.path.join(ROOT, "tests", "razorpay_node", "flow.js")],
                             env=env, capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
        r = json.loads(run.stdout)
        assert (r["captured"]["status"], r["captured"]["captured"]) == ("captured", True)
        assert r["processed"]["status"] == "processed"
