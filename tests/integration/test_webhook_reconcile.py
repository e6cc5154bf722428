"""Events that Redis lost before the dispatcher read them still get their deliveries: the
dispatcher reconciles the committed event rows of the outbox."""

from __future__ import annotations

import redis

from paystate.config import Settings
from paystate.testing import WebhookReceiver
from tests.support import ThreadGateway, make_settings, wait_until
from tests.webhooks_support import deliveries_of, new_merchant, retire_deliveries


def test_events_lost_from_the_stream_are_delivered(
        base_settings: Settings, paystate_webhook_receiver: WebhookReceiver) -> None:
    settings = make_settings(sweep_grace_ms=0)
    # Background consumers off: the stream's events are never read before Redis loses them.
    gw = ThreadGateway(settings, start_background=False).start()
    merchant_id = ""
    try:
        assert gw.runtime is not None and gw.runtime.webhooks is not None
        merchant_id, merchant = new_merchant(settings, gw.url,
                                             webhook_url=paystate_webhook_receiver.url)
        order = merchant.order()
        payment = merchant.upi_payment(order["id"])
        events = f"{settings.stream_prefix}:events"
        r = redis.Redis.from_url(settings.redis_url)
        wait_until(lambda: r.xlen(events) >= 2, 5, 0.02, "events published")
        r.delete(events)  # Redis restarted without the latest writes
        assert deliveries_of(settings, merchant_id) == []

        assert gw.runtime.webhooks.reconcile_once() == 2
        made = deliveries_of(settings, merchant_id)
        assert sorted(d["event"] for d in made) == ["payment.created", "payment.pending"]
        assert all(payment["id"] in d["payload"] for d in made)
        assert gw.runtime.webhooks.reconcile_once() == 0  # each event is delivered once

        gw.runtime.webhooks.run_due()
        got = sorted(req.json()["event"] for req in paystate_webhook_receiver.requests)
        assert got == ["payment.created", "payment.pending"]
    finally:
        if merchant_id:
            retire_deliveries(settings, merchant_id)
        gw.stop()
