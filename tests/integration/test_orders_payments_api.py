"""Orders and payments through the HTTP API, against real PostgreSQL and Redis."""

from __future__ import annotations

from tests.support import Client, wait_until

CARD = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2099,
        "cvv": "123", "holder_name": "Asha"}


def test_order_create_get_and_public(client: Client) -> None:
    order = client.order(50000, receipt="rcpt_1", notes={"k": "v"})
    assert order["status"] == "created" and order["amount"] == 50000
    assert order["currency"] == "INR" and order["id"].startswith("order_")
    assert len(order["id"]) == len("order_") + 16
    got = client.get(f"/api/v1/orders/{order['id']}")
    assert got.status_code == 200 and got.json() == order
    public = client.get(f"/api/v1/orders/{order['id']}/public", auth=False)
    merchant = client.get("/api/v1/merchant").json()
    assert public.json() == {"id": order["id"], "amount": 50000, "currency": "INR",
                             "status": "created", "receipt": "rcpt_1",
                             "merchant": {"name": merchant["name"],
                                          "logo_url": merchant["logo_url"]}}


def test_upi_payment_settles_and_order_becomes_paid(client: Client) -> None:
    order = client.order()
    payment = client.upi_payment(order["id"])
    assert payment["status"] == "pending" and payment["vpa"] == "shopper@okbank"
    assert payment["amount"] == 50000 and payment["captured"] is False
    done = client.wait_payment(payment["id"])
    assert done["status"] == "success"
    assert client.get(f"/api/v1/orders/{order['id']}").json()["status"] == "paid"
    again = client.post("/api/v1/payments", {"order_id": order["id"], "method": "upi",
                                             "vpa": "a@b"})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_card_payment_keeps_only_network_and_last4(client: Client) -> None:
    order = client.order()
    r = client.post("/api/v1/payments", {"order_id": order["id"], "method": "card", "card": CARD})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["card_network"] == "visa" and body["card_last4"] == "1111"
    assert "4111111111111111" not in r.text and "number" not in body and "cvv" not in body


def test_capture_only_once_and_only_after_success(client: Client) -> None:
    order = client.order()
    payment = client.upi_payment(order["id"])
    early = client.post(f"/api/v1/payments/{payment['id']}/capture", {})
    assert early.status_code == 400
    assert early.json()["error"]["description"] == "Payment not in capturable state"
    client.wait_payment(payment["id"])
    wrong = client.post(f"/api/v1/payments/{payment['id']}/capture", {"amount": 1})
    assert wrong.status_code == 400
    ok = client.post(f"/api/v1/payments/{payment['id']}/capture", {"amount": 50000})
    assert ok.status_code == 200 and ok.json()["captured"] is True
    twice = client.post(f"/api/v1/payments/{payment['id']}/capture", {})
    assert twice.status_code == 400
    hist = client.get(f"/api/v1/payments/{payment['id']}/transitions").json()
    assert [(t["from_state"], t["to_state"], t["trigger"]) for t in hist] == [
        (None, "pending", "create"), ("pending", "success", "succeed"),
        ("success", "success", "capture")]


def test_failed_payment_when_bank_declines(base_settings: object) -> None:
    from tests.support import ThreadGateway, make_settings

    gw = ThreadGateway(make_settings(test_payment_success=False)).start()
    try:
        order = gw.client.order()
        payment = gw.client.upi_payment(order["id"])
        done = gw.client.wait_payment(payment["id"])
        assert done["status"] == "failed"
        assert done["error_code"] == "PAYMENT_FAILED"
        assert done["error_description"] == "Payment declined by bank"
        assert gw.client.get(f"/api/v1/orders/{order['id']}").json()["status"] == "created"
    finally:
        gw.stop()


def test_list_payments_paginates_newest_first(client: Client) -> None:
    ids = []
    for _ in range(3):
        ids.append(client.upi_payment(client.order()["id"])["id"])
    r = client.get("/api/v1/payments?limit=2&offset=0")
    assert r.status_code == 200
    assert int(r.headers["X-Total-Count"]) >= 3
    assert [p["id"] for p in r.json()] == ids[::-1][:2]
    r2 = client.get("/api/v1/payments?limit=1&offset=2")
    assert [p["id"] for p in r2.json()] == [ids[0]]
    assert client.get("/api/v1/payments?limit=1001").status_code == 400
    assert client.get("/api/v1/payments?status=bogus").status_code == 400
    wait_until(lambda: all(client.get(f"/api/v1/payments/{i}").json()["status"] == "success"
                           for i in ids), 20, 0.1, "settle")
    pending = client.get("/api/v1/payments?status=pending&limit=1000").json()
    assert not set(ids) & {p["id"] for p in pending}


def test_public_payment_flow(client: Client) -> None:
    order = client.order()
    r = client.post("/api/v1/payments/public", {"order_id": order["id"], "method": "upi",
                                                "vpa": "x@y"}, auth=False)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    status = client.get(f"/api/v1/payments/{pid}/public", auth=False)
    assert status.status_code == 200 and status.json()["status"] in ("pending", "success")
    unknown = client.post("/api/v1/payments/public", {"order_id": "order_doesnotexist1",
                                                      "method": "upi", "vpa": "x@y"}, auth=False)
    assert unknown.status_code == 404


def test_health_and_jobs_status(client: Client) -> None:
    h = client.get("/health", auth=False)
    assert h.status_code == 200
    body = h.json()
    assert body["status"] == "healthy" and body["database"] == "connected"
    assert body["redis"] == "connected" and body["worker"] == "running"
    jobs = client.get("/api/v1/test/jobs/status", auth=False).json()
    assert set(jobs) == {"pending", "processing", "completed", "failed", "worker_status"}
    assert jobs["worker_status"] == "running"
    merchant = client.get("/api/v1/test/merchant", auth=False).json()
    assert merchant == {"id": "550e8400-e29b-41d4-a716-446655440000",
                        "email": "test@example.com", "api_key": "key_test_abc123",
                        "seeded": True}


def test_payment_events_reach_the_events_stream(client: Client, settings: object) -> None:
    import json

    import redis as redis_lib

    order = client.order()
    payment = client.upi_payment(order["id"])
    client.wait_payment(payment["id"])
    assert client.post(f"/api/v1/payments/{payment['id']}/capture", {}).status_code == 200
    stream = f"{settings.stream_prefix}:events"  # type: ignore[attr-defined]
    r = redis_lib.Redis.from_url(settings.redis_url)  # type: ignore[attr-defined]

    def names() -> list[str]:
        out = []
        for _id, fields in r.xrange(stream):
            event = json.loads(fields[b"payload"])
            if event["entity_id"] == payment["id"]:
                out.append(event["event"])
        return out
    wait_until(lambda: len(names()) == 4, 10, 0.05, "four payment events")
    assert names() == ["payment.created", "payment.pending", "payment.success",
                       "payment.captured"]


def test_a_payment_may_state_its_orders_amount_and_no_other(client: Client) -> None:
    """The seed's clients send ``amount`` with a payment: the order's amount is accepted, any
    other is refused with nothing created, on the merchant's and on the public endpoint."""
    order = client.order(50000)
    upi = {"order_id": order["id"], "method": "upi", "vpa": "shopper@okbank"}
    for path, auth in (("/api/v1/payments", True), ("/api/v1/payments/public", False)):
        wrong = client.post(path, {**upi, "amount": 49999}, auth=auth)
        assert wrong.status_code == 400, wrong.text
        assert wrong.json()["error"]["code"] == "BAD_REQUEST_ERROR"
        assert wrong.json()["error"]["description"] == "amount does not match order"
        for bad in ("50000", 50000.0, True, [50000]):
            typed = client.post(path, {**upi, "amount": bad}, auth=auth)
            assert typed.status_code == 400, (bad, typed.text)
            assert typed.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    payments = client.get("/api/v1/payments?limit=1000").json()
    assert not [p for p in payments if p["order_id"] == order["id"]]
    # Unknown order with a wrong amount: the order is looked for first (404).
    unknown = client.post("/api/v1/payments", {**upi, "order_id": "order_doesnotexist1",
                                               "amount": 1})
    assert unknown.status_code == 404

    card = client.post("/api/v1/payments", {"order_id": order["id"], "method": "card",
                                            "card": CARD, "amount": 50000})
    assert card.status_code == 201, card.text
    assert card.json()["amount"] == 50000
    other = client.order(20000)
    public = client.post("/api/v1/payments/public", {"order_id": other["id"], "method": "upi",
                                                     "vpa": "x@y", "amount": 20000}, auth=False)
    assert public.status_code == 201, public.text
    assert public.json()["amount"] == 20000
