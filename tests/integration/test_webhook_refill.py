"""A merchant's freed slot is refilled at once with its next due delivery: the per-merchant bound
keeps a hanging endpoint from holding others back, and it must not become a rate limit (with
refills left to a 1 s sweep, one merchant got about 10 webhooks a second)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import redis

from paystate.config import Settings
from paystate.engine.clock import SystemClock
from paystate.engine.streams import StreamNames
from paystate.engine.webhooks.dispatcher import WebhookDispatcher
from paystate.engine.webhooks.messages import CreateFromEvents, DispatcherConfig
from paystate.machines.webhook import PRODUCTION_SCHEDULE
from paystate.testing import ReceivedWebhook, WebhookReceiver
from tests.support import make_settings, wait_until
from tests.webhooks_support import new_merchant, retire_deliveries, rows

DELIVERIES = 2000


class Gauge:
    """How many requests the receiver is serving at once, and the most it ever served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.served = 0

    def answer(self, request: ReceivedWebhook) -> int:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.001)  # an endpoint's own work, so that requests in flight overlap
        with self._lock:
            self.now -= 1
            self.served += 1
        return 200


@pytest.mark.slow  # a load of its own (seconds): make test runs it, test-fast not
def test_2000_due_deliveries_of_one_merchant_arrive_within_seconds(
        base_settings: Settings, paystate_webhook_receiver: WebhookReceiver) -> None:
    settings = make_settings()
    gauge = Gauge()
    paystate_webhook_receiver.respond(gauge.answer)
    merchant_id, _ = new_merchant(settings, "", webhook_url=paystate_webhook_receiver.url)
    config = DispatcherConfig(database_url=settings.database_url,
                              streams=StreamNames(settings.stream_prefix),
                              schedule=PRODUCTION_SCHEDULE, owner="refill")
    # No sweeper in this test: every attempt must be started by a job or a refill.
    dispatcher = WebhookDispatcher(config, redis.Redis.from_url(settings.redis_url),
                                   SystemClock(), allow_private=True, sweep_interval=3600)
    dispatcher.start_actor()
    dispatcher.start_worker()
    try:
        now = int(datetime.now(UTC).timestamp())
        events = [{"event": "payment.success", "merchant_id": merchant_id, "timestamp": now,
                   "entity_id": f"pay_refill{n:08d}", "data": {"payment": {"n": n}}}
                  for n in range(DELIVERIES)]
        started = time.monotonic()
        made = dispatcher.submit(CreateFromEvents(tuple(events))).result(60)
        assert made == DELIVERIES
        wait_until(lambda: gauge.served >= DELIVERIES, 30, 0.05, "every delivery to arrive")
        took = time.monotonic() - started
        # About 9-10 s on the project's 2-core machine, with this receiver sharing the test's
        # process (and its GIL) with the dispatcher; paced by the sweeper it took ~200 s.
        assert took < 20, f"{DELIVERIES} deliveries took {took:.1f}s"
        assert 1 < gauge.most <= config.per_lane
        assert gauge.served == DELIVERIES  # none twice

        def recorded() -> bool:
            done = rows(settings, "SELECT count(*) AS n FROM webhook_logs WHERE merchant_id = %s"
                        " AND status = 'succeeded'", merchant_id)[0]["n"]
            return bool(done == DELIVERIES)
        wait_until(recorded, 10, 0.05, "every attempt to be recorded")
        print(f"\n{DELIVERIES} deliveries to one merchant in {took:.2f}s "
              f"({DELIVERIES / took:.0f}/s), at most {gauge.most} at once")
    finally:
        dispatcher.stop()
        retire_deliveries(settings, merchant_id)
