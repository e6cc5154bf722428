"""Webhook endpoints over real PostgreSQL and Redis: the CRUD and its refusals, one delivery per
(event, subscribed endpoint), a lane per endpoint, secret rolls with both signatures, disabling a
dead endpoint on an injected clock, recover, the events list, and Razorpay-format bodies."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import razorpay
from standardwebhooks import Webhook

from paystate.config import Settings
from paystate.engine.clock import ManualClock
from paystate.testing import WebhookReceiver
from tests.support import (
    Client,
    ThreadGateway,
    make_settings,
    manual_gateway,
    separate_databases,
    wait_until,
)
from tests.webhooks_support import new_merchant, retire_deliveries, rows

KNOWN = "payment.created, payment.pending, payment.success"


def create(client: Client, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/webhook_endpoints",
                         {"url": url, "enabled_events": events, **extra})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def deliveries(settings: Settings, endpoint_id: str) -> list[dict[str, Any]]:
    return rows(settings, "SELECT * FROM webhook_logs WHERE endpoint_id = %s ORDER BY seq",
                endpoint_id)


# -- the API ----------------------------------------------------------------------------------

def test_crud_with_its_refusals(front: Any, paystate_webhook_receiver: WebhookReceiver) -> None:
    _, client = new_merchant(front.settings, front.url)
    made = create(client, paystate_webhook_receiver.url, ["payment.success"],
                  description="fulfilment")
    assert re.fullmatch(r"we_[A-Za-z0-9]{16}", made["id"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{32,}", made["secret"])
    assert (made["status"], made["format"], made["livemode"], made["default"]) == (
        "enabled", "paystate", False, False)

    listed = client.get("/api/v1/webhook_endpoints").json()["data"]
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
    assert listed[0]["health"]["deliveries_24h"] == 0

    patched = client.request("PATCH", f"/api/v1/webhook_endpoints/{made['id']}",
                             json={"enabled_events": ["refund.created", "refund.processed"],
                                   "disabled": True})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["enabled_events"], patched.json()["status"]) == (
        ["refund.created", "refund.processed"], "disabled")

    # Refusals change nothing.
    for body, words in [
        ({"url": paystate_webhook_receiver.url, "enabled_events": ["payment.sucess"]},
         KNOWN),
        ({"url": "not a url", "enabled_events": ["*"]}, "url"),
        ({"url": paystate_webhook_receiver.url, "enabled_events": []}, "enabled_events"),
        ({"url": paystate_webhook_receiver.url, "enabled_events": ["*"], "filter": 1},
         "Unknown field 'filter'"),
        ({"url": paystate_webhook_receiver.url, "enabled_events": ["payment.success"],
          "format": "razorpay"}, "payment.authorized"),
    ]:
        answer = client.post("/api/v1/webhook_endpoints", body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]["code"] == "BAD_REQUEST_ERROR"
        assert words in answer.json()["error"]["description"], answer.text
    assert len(client.get("/api/v1/webhook_endpoints").json()["data"]) == 1

    for _ in range(15):
        create(client, paystate_webhook_receiver.url, ["*"])
    seventeenth = client.post("/api/v1/webhook_endpoints",
                              {"url": paystate_webhook_receiver.url, "enabled_events": ["*"]})
    assert seventeenth.status_code == 400 and "at most 16" in seventeenth.text

    gone = client.request("DELETE", f"/api/v1/webhook_endpoints/{made['id']}")
    assert gone.json() == {"id": made["id"], "deleted": True}
    assert client.get(f"/api/v1/webhook_endpoints/{made['id']}").status_code == 404
    assert client.request("DELETE",
                          f"/api/v1/webhook_endpoints/{made['id']}").status_code == 404


def test_the_default_endpoint_is_the_merchant_webhook_url(
        front: Any, paystate_webhook_receiver: WebhookReceiver) -> None:
    _, client = new_merchant(front.settings, front.url)
    assert client.put("/api/v1/merchant/webhook",
                      {"url": paystate_webhook_receiver.url}).status_code == 200
    profile = client.get("/api/v1/merchant").json()
    [default] = client.get("/api/v1/webhook_endpoints").json()["data"]
    assert (default["url"], default["enabled_events"], default["default"]) == (
        profile["webhook_url"], ["*"], True)
    assert client.put("/api/v1/merchant/webhook", {"url": None}).status_code == 200
    assert client.get("/api/v1/merchant").json()["webhook_url"] is None
    assert client.get("/api/v1/webhook_endpoints").json()["data"] == []


# -- fan-out and lanes --------------------------------------------------------------------------

def test_each_event_goes_once_to_every_endpoint_subscribed_to_it(
        gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    merchant_id, client = new_merchant(gateway.settings, gateway.url,
                                       webhook_url=paystate_webhook_receiver.url)
    other = WebhookReceiver().start()
    try:
        fulfil = create(client, other.url, ["payment.success"])
        accounts = create(client, other.url, ["refund.created", "refund.processed"])
        payment = client.upi_payment(client.order()["id"])
        wait_until(lambda: [d["status"] for d in deliveries(gateway.settings, fulfil["id"])]
                   == ["succeeded"], 10, 0.05, "the fulfilment endpoint's delivery")
        default = next(e for e in client.get("/api/v1/webhook_endpoints").json()["data"]
                   if e["default"])
        wait_until(lambda: len(deliveries(gateway.settings, default["id"])) == 3, 10, 0.05,
                   "the default endpoint's three")
        assert deliveries(gateway.settings, accounts["id"]) == []
        [only] = other.requests
        body = only.json()
        assert (body["event"], body["data"]["payment"]["id"]) == ("payment.success",
                                                                  payment["id"])
        Webhook(fulfil["secret"]).verify(only.body, only.headers)
        # The same event, the same evt_ id and body on every endpoint.
        same = next(d for d in deliveries(gateway.settings, default["id"])
                if d["event"] == "payment.success")
        assert same["event_id"] == body["id"] and same["payload"].encode() == only.body
        page = client.get(f"/api/v1/webhooks?endpoint_id={fulfil['id']}").json()
        assert page["total"] == 1 and page["data"][0]["endpoint_id"] == fulfil["id"]
        assert len(rows(gateway.settings, "SELECT id FROM webhook_logs WHERE merchant_id = %s",
                        merchant_id)) == 4
    finally:
        other.stop()


@pytest.mark.slow  # a load of its own (seconds): make test runs it, test-fast not
def test_a_hanging_endpoint_does_not_slow_the_same_merchants_healthy_one(
        base_settings: Settings) -> None:
    gateway = ThreadGateway(make_settings()).start()
    slow, fast = WebhookReceiver().start(), WebhookReceiver().start()
    slow.respond(lambda request: (slow.released.wait(30), (200, "late"))[1])
    merchant_id = ""
    try:
        merchant_id, client = new_merchant(gateway.settings, gateway.url)
        create(client, slow.url, ["*"])
        healthy = create(client, fast.url, ["payment.success"])
        started = time.monotonic()
        for _ in range(30):
            client.upi_payment(client.order()["id"])
        wait_until(lambda: len(fast.requests) == 30, 15, 0.02, "30 deliveries to the healthy one")
        elapsed = time.monotonic() - started
        # 30 orders and payments made and settled, and 30 deliveries: seconds, while the slow
        # endpoint holds its 8 slots for its 5 s timeouts.
        assert elapsed < 5.0, elapsed
        assert len(slow.requests) == 8  # the per-endpoint bound holds its other 82 back
        assert all(d["status"] == "succeeded" for d in deliveries(gateway.settings,
                                                                  healthy["id"]))
    finally:
        slow.released.set()
        gateway.stop()
        if merchant_id:
            retire_deliveries(gateway.settings, merchant_id)
        slow.stop()
        fast.stop()


# -- secrets, health, recover -----------------------------------------------------------------

def test_a_rolled_secret_signs_beside_the_new_one_until_it_expires(
        gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    _, client = new_merchant(gateway.settings, gateway.url)
    made = create(client, paystate_webhook_receiver.url, ["*"])
    rolled = client.post(f"/api/v1/webhook_endpoints/{made['id']}/secret/roll",
                         {"expires_in_hours": 24}).json()
    assert rolled["secret"] != made["secret"] and rolled["previous_secret_expires_at"]
    sent = client.post(f"/api/v1/webhook_endpoints/{made['id']}/test").json()
    assert sent["status"] == "success", sent
    [request] = paystate_webhook_receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    # One delivery, verified by the unmodified verifier under either secret.
    Webhook(made["secret"]).verify(request.body, request.headers)
    Webhook(rolled["secret"]).verify(request.body, request.headers)
    assert request.verify(rolled["secret"])  # the hex header: the new secret's
    # expires_in_hours 0: the old one stops at once.
    again = client.post(f"/api/v1/webhook_endpoints/{made['id']}/secret/roll",
                        {"expires_in_hours": 0}).json()
    client.post(f"/api/v1/webhook_endpoints/{made['id']}/test")
    last = paystate_webhook_receiver.requests[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    Webhook(again["secret"]).verify(last.body, last.headers)
    with pytest.raises(Exception):  # noqa: B017 - the verifier's own error type
        Webhook(rolled["secret"]).verify(last.body, last.headers)
    refused = client.post(f"/api/v1/webhook_endpoints/{made['id']}/secret/roll",
                          {"expires_in_hours": 73})
    assert refused.status_code == 400


@contextmanager
def gateway_on_its_own_clock() -> Iterator[tuple[ThreadGateway, ManualClock]]:
    """A gateway on a clock the test moves, in a database of its own: moving its clock days
    ahead makes no other test's deliveries due (``run_due`` attempts every due one)."""
    clock = ManualClock(datetime.now(UTC))
    settings = separate_databases(make_settings(), "paystate_endpoint_clock", redis_db=7,
                                  seed=False)
    with ThreadGateway(settings, clock=clock, start_background=False) as gw:
        yield gw, clock


def test_a_dead_endpoint_is_disabled_keeps_its_deliveries_and_resumes(
        paystate_webhook_receiver: WebhookReceiver) -> None:
    """On an injected clock: every attempt failing for 72 h disables the endpoint."""
    with gateway_on_its_own_clock() as (gw, clock):
        merchant_id, client = new_merchant(gw.settings, gw.url)
        made = create(client, paystate_webhook_receiver.url, ["*"])
        paystate_webhook_receiver.respond_with(500)
        assert gw.runtime is not None
        hooks = gw.runtime.webhooks

        def test_delivery() -> str:
            return hooks.create_delivery(merchant_id, "webhook.test", {"n": 1}, False,
                                         made["id"]).result(10).id

        first = test_delivery()
        assert hooks.run_due() == 1
        status = client.get(f"/api/v1/webhook_endpoints/{made['id']}").json()
        assert status["status"] == "enabled"
        clock.advance(timedelta(hours=71))
        test_delivery()
        hooks.run_due()
        assert client.get(f"/api/v1/webhook_endpoints/{made['id']}").json()["status"] == (
            "enabled")
        clock.advance(timedelta(hours=1, seconds=1))
        kept = test_delivery()
        assert hooks.run_due() >= 1
        disabled = client.get(f"/api/v1/webhook_endpoints/{made['id']}").json()
        assert (disabled["status"], disabled["disabled_reason"]) == (
            "disabled", "Every delivery attempt failed for 72 hours")
        # Pending deliveries are kept, not attempted while it is disabled...
        waiting = test_delivery()
        clock.advance(timedelta(hours=3))
        before = len(paystate_webhook_receiver.requests)
        assert hooks.run_due() == 0
        assert len(paystate_webhook_receiver.requests) == before
        assert client.get(f"/api/v1/webhooks/{waiting}").json()["status"] == "pending"
        # ...and resume when it is enabled again.
        paystate_webhook_receiver.respond_with(200)
        enabled = client.request("PATCH", f"/api/v1/webhook_endpoints/{made['id']}",
                                 json={"disabled": False}).json()
        assert (enabled["status"], enabled["disabled_reason"]) == ("enabled", None)
        assert hooks.run_due() >= 2
        assert client.get(f"/api/v1/webhooks/{waiting}").json()["status"] == "success"
        assert client.get(f"/api/v1/webhooks/{kept}").json()["status"] in ("success", "pending")

        # Recover: the failed ones since a time are sent again.
        paystate_webhook_receiver.respond_with(500)
        since = clock.now().isoformat()
        lost = test_delivery()
        for _ in range(6):
            hooks.run_due()
            clock.advance(timedelta(hours=3))
        failed = client.get(f"/api/v1/webhooks/{lost}").json()
        assert (failed["status"], failed["attempts"]) == ("failed", 5), failed
        paystate_webhook_receiver.respond_with(200)
        recovered = client.post(f"/api/v1/webhook_endpoints/{made['id']}/recover",
                                {"since": since}).json()
        assert recovered == {"recovered": 1}
        assert hooks.run_due() == 1
        back = client.get(f"/api/v1/webhooks/{lost}").json()
        assert (back["status"], back["attempts"]) == ("success", 1)
        assert first != lost
        bad = client.post(f"/api/v1/webhook_endpoints/{made['id']}/recover",
                          {"since": "yesterday"})
        assert bad.status_code == 400


# -- events -----------------------------------------------------------------------------------

def test_events_are_listed_newest_first_with_a_cursor_and_a_type_filter(
        gateway: ThreadGateway) -> None:
    _, client = new_merchant(gateway.settings, gateway.url)
    payments = [client.upi_payment(client.order()["id"])["id"] for _ in range(2)]
    wait_until(lambda: len(client.get("/api/v1/events?limit=100").json()["data"]) == 6, 10,
               0.05, "six events")
    everything = client.get("/api/v1/events?limit=100").json()
    assert everything["has_more"] is False
    events = everything["data"]
    assert all(re.fullmatch(r"evt_[A-Za-z0-9]{16}", e["id"]) for e in events)
    assert [e["created_at"] for e in events] == sorted((e["created_at"] for e in events),
                                                       reverse=True)
    first = client.get("/api/v1/events?limit=4").json()
    rest = client.get(f"/api/v1/events?limit=4&starting_after={first['data'][-1]['id']}").json()
    assert first["has_more"] and not rest["has_more"]
    assert [e["id"] for e in first["data"] + rest["data"]] == [e["id"] for e in events]
    success = client.get("/api/v1/events?type=payment.success").json()["data"]
    assert sorted(e["data"]["payment"]["id"] for e in success) == sorted(payments)
    one = client.get(f"/api/v1/events/{success[0]['id']}").json()
    assert one == success[0] and set(one) == {"id", "type", "livemode", "created_at", "data"}
    # Another merchant's event is not found; a bad cursor is a 404, not a silent full list.
    _, stranger = new_merchant(gateway.settings, gateway.url)
    assert stranger.get(f"/api/v1/events/{one['id']}").status_code == 404
    assert stranger.get(f"/api/v1/events?starting_after={one['id']}").status_code == 404


def test_events_older_than_30_days_are_pruned_in_batches() -> None:
    with manual_gateway() as (gw, clock):
        _, client = new_merchant(gw.settings, gw.url)
        client.upi_payment(client.order()["id"])
        assert gw.runtime is not None
        mine = client.get("/api/v1/events").json()["data"]
        assert len(mine) == 2  # created and pending: nothing settles without the processor
        pruner = gw.runtime.pruner
        assert pruner is not None
        clock.advance(timedelta(days=29))
        pruner.prune_once(limit=1)
        assert len(client.get("/api/v1/events").json()["data"]) == 2
        clock.advance(timedelta(days=1, seconds=1))
        assert pruner.prune_once(limit=1) == 1  # one batch of one
        while pruner.prune_once(limit=1000):
            pass
        assert client.get("/api/v1/events").json()["data"] == []


# -- Razorpay format --------------------------------------------------------------------------

def test_a_razorpay_format_endpoint_gets_razorpays_events_and_signature(
        gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    _, client = new_merchant(gateway.settings, gateway.url)
    made = create(client, paystate_webhook_receiver.url,
                  ["payment.authorized", "order.paid"], format="razorpay")
    payment = client.upi_payment(client.order()["id"])
    wait_until(lambda: len(paystate_webhook_receiver.requests) == 2, 10, 0.05,
               "payment.authorized and order.paid")
    utility = razorpay.Client(auth=("key", "secret")).utility
    seen = {}
    for request in paystate_webhook_receiver.requests:
        body_text = request.body.decode()
        assert utility.verify_webhook_signature(
            body_text, request.headers["x-razorpay-signature"], made["secret"])
        body = json.loads(body_text)
        # A handler written against Razorpay's documented payload.
        seen[body["event"]] = body["payload"]["payment"]["entity"]["id"]
        assert body["entity"] == "event" and body["account_id"].startswith("acc_")
    assert seen == {"payment.authorized": payment["id"], "order.paid": payment["id"]}

