"""Webhook retries across real processes: a kill -9 mid-schedule (with or without Redis) loses no
retry, and two processes sharing the work make each due attempt exactly once.

The gateways run ``python -m paystate serve`` with ``WEBHOOK_RETRY_INTERVALS_TEST=true``
(+0, +5, +10, +15, +20 s)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import redis

from paystate.config import Settings
from paystate.testing import ReceivedWebhook, WebhookReceiver
from tests.support import Client, ProcessGateway, process_env, wait_until
from tests.webhooks_support import attempts_of, deliveries_of, new_merchant


@pytest.mark.parametrize("empty_redis", [False, True], ids=["kill9", "kill9-and-redis-emptied"])
def test_a_kill9_mid_schedule_loses_no_retry(settings: Settings, empty_redis: bool,
                                             paystate_webhook_receiver: WebhookReceiver) -> None:
    paystate_webhook_receiver.respond_with(500, 200)  # the first attempt fails, then OK
    env = process_env(settings, WEBHOOK_RETRY_INTERVALS_TEST="true")
    first = ProcessGateway(env).start()
    try:
        merchant_id, client = new_merchant(settings, first.url,
                                           webhook_url=paystate_webhook_receiver.url)
        # Returns once the first attempt is recorded: nothing is in flight at the kill.
        delivery = client.post("/api/v1/merchant/webhook/test").json()
        assert (delivery["status"], delivery["state"], delivery["attempts"]) == (
            "pending", "retrying", 1), delivery
        first.kill9()
    finally:
        first.stop()
    if empty_redis:
        # Redis restarted without persistence: streams, groups and pending jobs are gone.
        redis.Redis.from_url(settings.redis_url).flushall()
    second = ProcessGateway(env).start()
    try:
        wait_until(lambda: deliveries_of(settings, merchant_id)[0]["status"] == "succeeded",
                   30, 0.1, "the retry after the restart")
        attempts = attempts_of(settings, delivery["id"])
        assert [a["response_code"] for a in attempts] == [500, 200]
        failed_at = deliveries_of(settings, merchant_id)[0]["created_at"]
        assert attempts[1]["at"] - attempts[0]["at"] >= timedelta(seconds=5)
        assert attempts[1]["at"] >= failed_at + timedelta(seconds=5)
        assert len(paystate_webhook_receiver.for_delivery(delivery["id"])) == 2
        assert Client(second.url, client.auth).get(
            f"/api/v1/webhooks/{delivery['id']}").json()["status"] == "success"
    finally:
        second.stop()


def test_two_processes_make_each_due_attempt_once(
        settings: Settings, paystate_webhook_receiver: WebhookReceiver) -> None:
    lock = threading.Lock()
    hits: dict[str, list[ReceivedWebhook]] = {}

    def first_attempt_fails(request: ReceivedWebhook) -> int:
        with lock:
            hits.setdefault(request.webhook_id, []).append(request)
            return 500 if len(hits[request.webhook_id]) == 1 else 200

    paystate_webhook_receiver.respond(first_attempt_fails)
    env = process_env(settings, WEBHOOK_RETRY_INTERVALS_TEST="true", TEST_PROCESSING_DELAY="300")
    gateways = [ProcessGateway(env).start(), ProcessGateway(env).start()]
    try:
        merchant_id, client_a = new_merchant(settings, gateways[0].url,
                                             webhook_url=paystate_webhook_receiver.url)
        client_b = Client(gateways[1].url, client_a.auth)
        for client in (client_a, client_b) * 5:
            client.upi_payment(client.order()["id"])
        expected = 10 * 3  # created, pending, success per payment

        def all_succeeded() -> bool:
            found = deliveries_of(settings, merchant_id)
            return len(found) == expected and all(d["status"] == "succeeded" for d in found)
        wait_until(all_succeeded, 40, 0.2, "every delivery to succeed on its second attempt")
        workers = set()
        for d in deliveries_of(settings, merchant_id):
            attempts = attempts_of(settings, str(d["id"]))
            assert [a["attempt"] for a in attempts] == [1, 2]
            assert len(hits[str(d["id"])]) == 2
            workers.update(a["worker"] for a in attempts)
        assert len(hits) == expected
        assert len(workers) in (1, 2)
    finally:
        for gw in gateways:
            gw.stop()
