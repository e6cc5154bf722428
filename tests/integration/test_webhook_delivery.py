"""Webhook deliveries over real PostgreSQL and Redis: domain events become signed, byte-exact
POSTs; duplicates make no second delivery; a hanging merchant delays nobody else; each due attempt
is made once even with two dispatchers racing; a crashed attempt is made again after its lease;
a lost Redis loses no attempt."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import redis
from standardwebhooks import Webhook

from paystate.config import Settings
from paystate.engine.clock import ManualClock, SystemClock
from paystate.engine.secrets_hash import new_webhook_secret
from paystate.engine.streams import StreamNames
from paystate.engine.webhooks.dispatcher import GROUP, WebhookDispatcher
from paystate.engine.webhooks.messages import DispatcherConfig
from paystate.machines.webhook import PRODUCTION_SCHEDULE
from paystate.testing import FunctionTransport, ReceivedWebhook, WebhookReceiver
from tests.support import ThreadGateway, make_settings, wait_until
from tests.webhooks_support import (
    attempts_of,
    deliveries_of,
    new_merchant,
    retire_deliveries,
    rows,
)

PAYMENT_EVENTS = {"payment.created", "payment.pending", "payment.success"}


def statuses(settings: Settings, merchant_id: str) -> list[str]:
    return [d["status"] for d in deliveries_of(settings, merchant_id)]


def test_payment_events_arrive_signed_and_byte_exact(
        gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    secret = new_webhook_secret()
    merchant_id, client = new_merchant(gateway.settings, gateway.url,
                                       webhook_url=paystate_webhook_receiver.url,
                                       webhook_secret=secret)
    _, quiet = new_merchant(gateway.settings, gateway.url)  # no webhook_url: no deliveries
    payment = client.upi_payment(client.order()["id"])
    other = quiet.upi_payment(quiet.order()["id"])
    wait_until(lambda: statuses(gateway.settings, merchant_id) == ["succeeded"] * 3, 15, 0.05,
               "three deliveries")
    stored = {str(d["id"]): d for d in deliveries_of(gateway.settings, merchant_id)}
    received = paystate_webhook_receiver.requests
    assert {json.loads(r.body)["event"] for r in received} == PAYMENT_EVENTS
    for request in received:
        delivery = stored[request.webhook_id]
        assert request.body == delivery["payload"].encode()
        body = request.json()
        assert set(body) == {"id", "event", "timestamp", "data"}
        assert body["event"] == delivery["event"] and body["id"].startswith("evt_")
        assert body["id"] == delivery["event_id"]
        assert body["data"]["payment"]["id"] == payment["id"]
        assert request.verify(secret)
        # The seed README names the same hex HMAC X-Signature; receivers written for it
        # check that header.
        assert request.headers["x-signature"] == request.headers["x-webhook-signature"]
        Webhook(secret).verify(request.body, request.headers)
    success = next(r.json() for r in received if r.json()["event"] == "payment.success")
    assert success["data"]["payment"]["status"] == "success"
    quiet.wait_payment(other["id"])
    assert client.get(f"/api/v1/payments/{payment['id']}").json()["status"] == "success"
    assert rows(gateway.settings, "SELECT count(*) AS n FROM webhook_logs w JOIN merchants m"
                " ON m.id = w.merchant_id JOIN merchant_keys k ON k.merchant_id = m.id"
                " WHERE k.api_key = %s",
                quiet.auth["X-Api-Key"])[0]["n"] == 0


def test_redirects_are_not_followed_and_bodies_are_truncated(
        gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    merchant_id, client = new_merchant(gateway.settings, gateway.url,
                                       webhook_url=paystate_webhook_receiver.url)
    paystate_webhook_receiver.respond_with((302, "moved"), (500, "é" * 3000))
    try:
        moved = client.post("/api/v1/merchant/webhook/test").json()
        assert (moved["status"], moved["state"], moved["response_code"]) == (
            "pending", "retrying", 302)
        failed = client.post("/api/v1/merchant/webhook/test").json()
        [log] = failed["attempt_log"]
        assert log["response_code"] == 500 and log["response_body"] == "é" * 1000
        assert len(paystate_webhook_receiver.requests) == 2  # no request to a Location
    finally:
        retire_deliveries(gateway.settings, merchant_id)


def test_duplicate_copies_of_an_event_make_one_delivery(
        gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    merchant_id, _ = new_merchant(gateway.settings, gateway.url,
                                  webhook_url=paystate_webhook_receiver.url)
    event = {"event": "refund.processed", "timestamp": 1_790_000_000, "merchant_id": merchant_id,
             "entity_id": "rfnd_duplicate0000", "data": {"refund": {"id": "rfnd_duplicate0000",
                                                                   "amount": 100}}}
    # The relay republishes from JSONB, which orders keys its own way: the same event.
    reordered = dict(reversed(list(event.items())))
    streams = StreamNames(gateway.settings.stream_prefix)
    client = redis.Redis.from_url(gateway.settings.redis_url)
    try:
        for copy in (event, reordered, event):
            client.xadd(streams.events, {"payload": json.dumps(copy)})

        def consumed() -> bool:
            groups = {g["name"].decode(): g for g in client.xinfo_groups(streams.events)}
            group = groups.get(GROUP)
            return bool(group) and group["lag"] == 0 and group["pending"] == 0
        wait_until(consumed, 10, 0.05, "the events to be consumed")
    finally:
        client.close()
    wait_until(lambda: statuses(gateway.settings, merchant_id) == ["succeeded"], 10, 0.05,
               "the delivery")
    assert len(paystate_webhook_receiver.requests) == 1


@pytest.mark.slow  # a load of its own (seconds): make test runs it, test-fast not
def test_a_hanging_merchant_delays_no_other_merchant(base_settings: Settings) -> None:
    gateway = ThreadGateway(make_settings()).start()
    slow, fast = WebhookReceiver().start(), WebhookReceiver().start()
    slow.respond(lambda request: (slow.released.wait(30), (200, "late"))[1])
    try:
        slow_id, slow_client = new_merchant(gateway.settings, gateway.url, webhook_url=slow.url)
        fast_id, fast_client = new_merchant(gateway.settings, gateway.url, webhook_url=fast.url)
        for _ in range(4):  # 12 deliveries: more than the 8 one merchant may have in flight
            slow_client.upi_payment(slow_client.order()["id"])
        wait_until(lambda: len(slow.requests) >= 8, 10, 0.02, "the slow merchant's first POSTs")
        started = time.monotonic()
        payment = fast_client.upi_payment(fast_client.order()["id"])
        wait_until(lambda: statuses(gateway.settings, fast_id) == ["succeeded"] * 3, 10, 0.02,
                   "the fast merchant's deliveries")
        elapsed = time.monotonic() - started
        assert fast_client.get(f"/api/v1/payments/{payment['id']}").json()["status"] == "success"
        # Payment processing (200 ms here) and three deliveries, well inside one 5 s timeout.
        assert elapsed < 2.0, elapsed
        assert len(slow.requests) == 8  # the per-merchant bound holds the rest back
        wait_until(lambda: any(d["attempts"] for d in deliveries_of(gateway.settings, slow_id)),
                   10, 0.05, "the slow merchant's first timeouts")
        timed_out = [a for d in deliveries_of(gateway.settings, slow_id)
                     for a in attempts_of(gateway.settings, str(d["id"]))]
        assert timed_out and all(a["error"] == "timed out after 5 s" for a in timed_out)
        assert all(a["response_code"] is None and a["duration_ms"] >= 4900 for a in timed_out)
    finally:
        slow.released.set()
        gateway.stop()
        retire_deliveries(gateway.settings, slow_id)
        slow.stop()
        fast.stop()


def dispatcher(settings: Settings, prefix: str, clock: Any, owner: str) -> WebhookDispatcher:
    config = DispatcherConfig(database_url=settings.database_url, streams=StreamNames(prefix),
                              schedule=PRODUCTION_SCHEDULE, owner=owner)
    client = redis.Redis.from_url(settings.redis_url)
    return WebhookDispatcher(config, client, clock, allow_private=True).start_actor()


def test_two_dispatchers_racing_make_each_due_attempt_once(
        base_settings: Settings, paystate_webhook_receiver: WebhookReceiver) -> None:
    settings = make_settings()
    merchant_id, _ = new_merchant(settings, "", webhook_url=paystate_webhook_receiver.url)
    clock = SystemClock()
    one = dispatcher(settings, settings.stream_prefix, clock, "one")
    two = dispatcher(settings, settings.stream_prefix, clock, "two")
    try:
        ids = [one.create_delivery(merchant_id, "webhook.test", {"n": n}).result(10).id
               for n in range(40)]
        racers = [threading.Thread(target=d.run_due) for d in (one, two, one, two)]
        for t in racers:
            t.start()
        for t in racers:
            t.join(30)

        def attempted() -> int:
            return rows(settings, "SELECT count(*) AS n FROM webhook_logs WHERE"
                        " merchant_id = %s AND attempts > 0", merchant_id)[0]["n"]
        for _ in range(10):  # the per-merchant bound (8) may leave some for more rounds
            if attempted() == len(ids):
                break
            one.run_due()
            two.run_due()
        assert attempted() == len(ids)
        hits: dict[str, list[ReceivedWebhook]] = {}
        for request in paystate_webhook_receiver.requests:
            hits.setdefault(request.webhook_id, []).append(request)
        assert sorted(hits) == sorted(ids) and all(len(v) == 1 for v in hits.values())
        attempts = [a for did in ids for a in attempts_of(settings, did)]
        assert len(attempts) == len(ids)
    finally:
        one.stop()
        two.stop()


def test_an_attempt_cut_short_by_a_crash_is_made_after_its_lease(
        base_settings: Settings, paystate_webhook_receiver: WebhookReceiver) -> None:
    settings = make_settings()
    merchant_id, _ = new_merchant(settings, "", webhook_url=paystate_webhook_receiver.url)
    clock = ManualClock(SystemClock().now() - timedelta(hours=1))
    survivor = dispatcher(settings, settings.stream_prefix, clock, "survivor")
    try:
        did = survivor.create_delivery(merchant_id, "webhook.test", {}).result(10).id
        # A process claimed it and died mid-POST: its lease outlives it.
        with_lease = rows(settings, "UPDATE webhook_logs SET lease_owner = 'dead',"
                          " lease_token = gen_random_uuid(), lease_until = %s WHERE id = %s"
                          " RETURNING lease_until", clock.now() + timedelta(seconds=30), did)
        assert with_lease
        assert survivor.run_due() == 0
        clock.advance(timedelta(seconds=29))
        assert survivor.run_due() == 0
        clock.advance(timedelta(seconds=1))
        assert survivor.run_due() == 1
        assert [r.webhook_id for r in paystate_webhook_receiver.requests] == [did]
        [attempt] = attempts_of(settings, did)
        assert attempt["worker"] == "survivor" and attempt["attempt"] == 1
    finally:
        survivor.stop()


def test_a_lost_redis_loses_no_attempt(base_settings: Settings,
                                       paystate_webhook_receiver: WebhookReceiver) -> None:
    settings = make_settings()
    merchant_id, _ = new_merchant(settings, "", webhook_url=paystate_webhook_receiver.url)
    clock = ManualClock(SystemClock().now() - timedelta(hours=1))
    streams = StreamNames(settings.stream_prefix)
    worker = dispatcher(settings, settings.stream_prefix, clock, f"w-{uuid.uuid4().hex[:6]}")
    try:
        did = worker.create_delivery(merchant_id, "webhook.test", {}).result(10).id
        client = redis.Redis.from_url(settings.redis_url)
        assert client.xlen(streams.webhook_jobs) == 1
        client.delete(streams.webhook_jobs)  # Redis lost the job
        client.close()
        assert worker.poll_once() == 0
        assert worker.sweep_once() == 0  # due, but not yet overdue by the sweeper's grace
        clock.advance(timedelta(seconds=5))
        assert worker.sweep_once() == 1
        wait_until(lambda: [d["status"] for d in deliveries_of(settings, merchant_id)]
                   == ["succeeded"], 10, 0.05, "the swept delivery")
        assert [r.webhook_id for r in paystate_webhook_receiver.requests] == [did]
    finally:
        worker.stop()


def test_a_first_attempt_due_at_once_goes_out_without_a_job(
        gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    """The process that creates a delivery whose first attempt is due now (and whose merchant
    has room) sends it straight after the commit: no job through Redis, no claim; its own
    owner name is on the attempt."""
    merchant_id, client = new_merchant(gateway.settings, gateway.url,
                                       webhook_url=paystate_webhook_receiver.url)
    client.upi_payment(client.order()["id"])
    wait_until(lambda: statuses(gateway.settings, merchant_id) == ["succeeded"] * 3, 15, 0.05,
               "three deliveries")
    ids = {str(d["id"]) for d in deliveries_of(gateway.settings, merchant_id)}
    streams = StreamNames(gateway.settings.stream_prefix)
    r = redis.Redis.from_url(gateway.settings.redis_url)
    try:
        jobs = [json.loads(fields[b"payload"])
                for _id, fields in r.xrange(streams.webhook_jobs)]
    finally:
        r.close()
    assert not [job for job in jobs if job.get("delivery_id") in ids]
    attempts = [a for delivery_id in ids for a in attempts_of(gateway.settings, delivery_id)]
    assert len(attempts) == 3 and all(a["attempt"] == 1 for a in attempts)
    assert len({a["worker"] for a in attempts}) == 1


def test_an_attempt_that_comes_back_after_a_manual_retry_is_logged_and_decides_nothing(
        base_settings: Settings, paystate_webhook_receiver: WebhookReceiver) -> None:
    """Attempt 2 is out when the merchant retries: its answer, when it comes, is one more
    attempt in the log (a late_attempt transition, from pending to pending), not a decision;
    the retried delivery's own first attempt decides."""
    settings = make_settings()
    merchant_id, _ = new_merchant(settings, "", webhook_url=paystate_webhook_receiver.url)
    receiver = paystate_webhook_receiver
    answers = iter([(500, "down"), None, (200, "fresh")])

    def answer(request: ReceivedWebhook) -> tuple[int, str]:
        scripted = next(answers)
        if scripted is None:
            receiver.released.wait(30)
            return 200, "late"
        return scripted

    receiver.respond(answer)
    clock = ManualClock(SystemClock().now() - timedelta(hours=1))
    hooks = dispatcher(settings, settings.stream_prefix, clock, "one")
    try:
        did = hooks.create_delivery(merchant_id, "webhook.test", {}).result(10).id
        assert hooks.run_due() == 1
        clock.advance(timedelta(minutes=1))
        second = threading.Thread(target=hooks.run_due)
        second.start()
        wait_until(lambda: len(receiver.requests) == 2, 10, 0.02, "attempt 2 to be out")
        retried = hooks.retry(did, merchant_id).result(10)
        assert (retried.state, retried.attempts) == ("pending", 0)
        receiver.released.set()
        second.join(30)
        after_late = deliveries_of(settings, merchant_id)[0]
        assert (after_late["status"], after_late["attempts"]) == ("pending", 0)
        assert hooks.run_due() == 1
        done = deliveries_of(settings, merchant_id)[0]
        assert (done["status"], done["attempts"], done["response_code"]) == ("succeeded", 1, 200)
        history = rows(settings, "SELECT seq, from_state, to_state, trigger FROM transitions"
                       " WHERE entity_id = %s ORDER BY seq", did)
        assert [(t["from_state"], t["to_state"], t["trigger"]) for t in history] == [
            (None, "pending", "create"), ("pending", "retrying", "fail_attempt"),
            ("retrying", "pending", "retry"), ("pending", "pending", "late_attempt"),
            ("pending", "succeeded", "succeed")]
        assert done["version"] == history[-1]["seq"]
        log = attempts_of(settings, did)
        assert [(a["attempt"], a["response_code"], a["response_body"], a["worker"])
                for a in log] == [(1, 500, "down", "one"), (2, 200, "late", "one"),
                                  (1, 200, "fresh", "one")]
        assert [a["seq"] for a in log] == [2, 4, 5]
        assert all(a["duration_ms"] >= 0 and a["error"] is None for a in log)
    finally:
        receiver.released.set()
        hooks.stop()


def test_an_answer_with_a_nul_character_is_recorded(base_settings: Settings) -> None:
    """PostgreSQL's text (and so jsonb) holds no NUL: a body or error with one would fail the
    whole batch of attempts it is recorded in, again at every retry. It is kept as U+FFFD."""
    settings = make_settings()
    merchant_id, _ = new_merchant(settings, "", webhook_url="http://127.0.0.1:9/hook")
    config = DispatcherConfig(database_url=settings.database_url,
                              streams=StreamNames(settings.stream_prefix),
                              schedule=PRODUCTION_SCHEDULE, owner="nul")
    hooks = WebhookDispatcher(config, redis.Redis.from_url(settings.redis_url), SystemClock(),
                              transport_factory=lambda: FunctionTransport(
                                  lambda request: (200, "ok\x00then"))).start_actor()
    try:
        did = hooks.create_delivery(merchant_id, "webhook.test", {}).result(10).id
        assert hooks.run_due() == 1
        assert deliveries_of(settings, merchant_id)[0]["status"] == "succeeded"
        [attempt] = attempts_of(settings, did)
        assert attempt["response_body"] == "ok\ufffdthen"
    finally:
        hooks.stop()
