"""The whole production retry schedule (+0, +1 min, +5 min, +30 min, +2 h) in frozen time, against
the real database, through the ``paystate.testing`` fixtures a merchant's tester uses too."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from paystate.config import Settings
from paystate.engine.webhooks.sender import OutgoingWebhook
from paystate.testing import SIMULATION_START, WebhookReceiver


def real_seconds() -> float:
    """A wall clock freezegun does not patch (it patches time.monotonic and perf_counter)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def test_production_schedule_in_frozen_time(base_settings: Settings, paystate_webhooks: Any,
                                            paystate_webhook_receiver: WebhookReceiver) -> None:
    paystate_webhook_receiver.respond_with(503)
    sim = paystate_webhooks(url=paystate_webhook_receiver.url)
    started = real_seconds()

    delivery = sim.deliver("payment.success", {"payment": {"id": "pay_sim", "amount": 50000}})
    attempts = sim.run_schedule(delivery)

    assert real_seconds() - started < 1.0  # 2 h 36 min of schedule
    assert [a["at"] for a in attempts] == [
        SIMULATION_START, SIMULATION_START + timedelta(minutes=1),
        SIMULATION_START + timedelta(minutes=6), SIMULATION_START + timedelta(minutes=36),
        SIMULATION_START + timedelta(hours=2, minutes=36)]
    assert [a["at"] - SIMULATION_START for a in attempts] == sim.offsets()
    assert [a["response_code"] for a in attempts] == [503] * 5
    final = sim.delivery(delivery)
    assert (final["status"], final["attempts"], final["next_retry_at"]) == ("failed", 5, None)
    assert [t["trigger"] for t in sim.transitions(delivery)] == [
        "create", "fail_attempt", "fail_attempt", "fail_attempt", "fail_attempt", "give_up"]

    # What the merchant saw: five POSTs of one delivery, each stamped with its attempt's time
    # and verifiable at that (frozen) time by the public Standard Webhooks package.
    sent = paystate_webhook_receiver.for_delivery(delivery)
    assert len(sent) == 5
    assert [int(r.headers["webhook-timestamp"]) for r in sent] == [
        int(a["at"].timestamp()) for a in attempts]
    assert len({r.body for r in sent}) == 1
    assert all(r.verify(sim.secret) for r in sent)
    Webhook(sim.secret).verify(sent[-1].body, sent[-1].headers)
    assert datetime.now(UTC) == SIMULATION_START + timedelta(hours=2, minutes=36)


def test_an_in_process_handler_can_stand_in_for_the_endpoint(base_settings: Settings,
                                                            paystate_webhooks: Any) -> None:
    seen: list[OutgoingWebhook] = []

    def handler(request: OutgoingWebhook) -> tuple[int, str]:
        seen.append(request)
        return (200, "thanks") if len(seen) == 3 else (500, "try later")

    sim = paystate_webhooks(handler=handler, schedule=(0, 5, 10, 15, 20))
    delivery = sim.deliver("refund.processed", {"refund": {"id": "rfnd_sim", "amount": 100}})
    attempts = sim.run_schedule(delivery)
    assert [(a["at"] - SIMULATION_START, a["response_code"], a["response_body"])
            for a in attempts] == [(timedelta(0), 500, "try later"),
                                   (timedelta(seconds=5), 500, "try later"),
                                   (timedelta(seconds=15), 200, "thanks")]
    assert sim.delivery(delivery)["status"] == "succeeded"
    assert {r.headers["webhook-id"] for r in seen} == {delivery}


def test_the_readme_example(base_settings: Settings, paystate_webhooks: Any,
                            paystate_webhook_receiver: WebhookReceiver) -> None:
    """README "Webhook retry simulation in tests", verbatim."""
    paystate_webhook_receiver.respond_with(503, 503, 200)      # fail twice, then accept
    sim = paystate_webhooks(url=paystate_webhook_receiver.url)  # or url=<your app's URL>
    delivery = sim.deliver("payment.success", {"payment": {"id": "pay_123", "amount": 50000}})

    attempts = sim.run_schedule(delivery)                       # jumps the clock retry by retry

    assert [a["at"] - attempts[0]["at"] for a in attempts] == [
        timedelta(0), timedelta(minutes=1), timedelta(minutes=6)]
    assert sim.delivery(delivery)["status"] == "succeeded"
    assert all(r.verify(sim.secret) for r in paystate_webhook_receiver.requests)
