"""Migration 014 on data written before it: a merchant's one webhook URL becomes its default
endpoint of each mode (its secret kept), and its deliveries, including one mid-retry, belong to
the endpoint of their mode; after the migration the dispatcher finishes the one mid-retry, signed
as before, and nothing is lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import redis
from psycopg.rows import dict_row
from standardwebhooks import Webhook

from paystate.config import Settings
from paystate.engine.clock import ManualClock
from paystate.engine.migrations import migrate
from paystate.engine.secrets_hash import hash_api_secret
from paystate.engine.streams import StreamNames
from paystate.engine.webhooks.dispatcher import WebhookDispatcher
from paystate.engine.webhooks.messages import DispatcherConfig
from paystate.engine.webhooks.sender import OutgoingWebhook
from paystate.machines.webhook import PRODUCTION_SCHEDULE
from paystate.testing import FunctionTransport
from tests.support import scratch_database

# An hour back: the attempts made after the migration, at the real time, are then due, and
# their webhook-timestamp is fresh enough for the verifier.
NOW = datetime.now(UTC) - timedelta(hours=1)
HOOKED = "11111111-1111-4111-8111-111111111111"
QUIET = "22222222-2222-4222-8222-222222222222"
SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtbWlncmF0aW9uLXRlc3Q="


def delivery(conn: psycopg.Connection, merchant: str, status: str, attempts: int,
             due: datetime | None, livemode: bool = False) -> str:
    did = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO webhook_logs (id, merchant_id, event, event_key, payload, status, attempts,"
        " next_retry_at, last_attempt_at, response_code, version, created_at, updated_at,"
        " livemode) VALUES (%s, %s, 'payment.success', %s, %s, %s, %s, %s, %s, %s, 1, %s, %s,"
        " %s)", (did, merchant, f"payment.success:pay_{did[:8]}:k",
                 '{"event":"payment.success","timestamp":1,"data":{}}', status, attempts, due,
                 NOW if attempts else None, 500 if attempts else None, NOW, NOW, livemode))
    return did


def test_urls_and_deliveries_mid_retry_move_to_default_endpoints(
        base_settings: Settings) -> None:
    url = scratch_database(base_settings, "paystate_preendpoints", before="014")
    with psycopg.connect(url, autocommit=True) as conn:
        for mid, hook, key in ((HOOKED, "http://127.0.0.1:9/hooks", "key_old_hooked"),
                               (QUIET, None, "key_old_quiet")):
            conn.execute("INSERT INTO merchants (id, name, email, webhook_url, webhook_secret,"
                         " created_at, updated_at) VALUES (%s, 'M', %s, %s, %s, %s, %s)",
                         (mid, f"{key}@example.com", hook, SECRET, NOW, NOW))
            conn.execute("INSERT INTO merchant_keys (api_key, merchant_id, mode, secret_hash,"
                         " created_at) VALUES (%s, %s, 'test', %s, %s)",
                         (key, mid, hash_api_secret("s"), NOW))
        retrying = delivery(conn, HOOKED, "retrying", 2, NOW + timedelta(minutes=5))
        live = delivery(conn, HOOKED, "pending", 0, NOW, livemode=True)
        done = delivery(conn, HOOKED, "succeeded", 1, None)
        orphan = delivery(conn, QUIET, "retrying", 1, NOW + timedelta(minutes=1))

    assert "014_webhook_endpoints" in migrate(url)

    with psycopg.connect(url, row_factory=dict_row) as conn:
        endpoints = conn.execute("SELECT * FROM webhook_endpoints ORDER BY livemode").fetchall()
        assert [(e["merchant_id"].__str__(), e["livemode"], e["url"], e["secret"],
                 e["enabled_events"], e["is_default"], e["status"]) for e in endpoints] == [
            (HOOKED, mode, "http://127.0.0.1:9/hooks", SECRET, ["*"], True, "enabled")
            for mode in (False, True)]
        by_mode = {e["livemode"]: e["id"] for e in endpoints}
        rows = {str(r["id"]): r for r in conn.execute("SELECT * FROM webhook_logs")}
        assert rows[retrying]["endpoint_id"] == by_mode[False]
        assert rows[live]["endpoint_id"] == by_mode[True]
        assert rows[done]["endpoint_id"] == by_mode[False]
        assert rows[orphan]["endpoint_id"] is None
        # Nothing about a delivery's progress changed.
        assert [(rows[d]["status"], rows[d]["attempts"]) for d in (retrying, live, done)] == [
            ("retrying", 2), ("pending", 0), ("succeeded", 1)]

    # The dispatcher finishes what was mid-retry, to the same URL, signed with the same secret.
    received: list[OutgoingWebhook] = []

    def answer(request: OutgoingWebhook) -> int:
        received.append(request)
        return 200

    clock = ManualClock(datetime.now(UTC))
    settings = base_settings
    config = DispatcherConfig(database_url=url, streams=StreamNames(f"mig{uuid.uuid4().hex[:8]}"),
                              schedule=PRODUCTION_SCHEDULE, owner="migration-test")
    hooks = WebhookDispatcher(config, redis.Redis.from_url(settings.redis_url), clock,
                              transport_factory=lambda: FunctionTransport(answer)).start_actor()
    try:
        assert hooks.run_due() == 3  # the retrying one, the live one, and the orphan
    finally:
        hooks.stop()
    sent = {r.headers["webhook-id"]: r for r in received}
    assert set(sent) == {retrying, live}  # the orphan has no URL: a failed attempt, recorded
    for request in sent.values():
        assert request.url == "http://127.0.0.1:9/hooks"
        Webhook(SECRET).verify(request.body, request.headers)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        after = {str(r["id"]): r for r in conn.execute("SELECT * FROM webhook_logs")}
        assert (after[retrying]["status"], after[retrying]["attempts"]) == ("succeeded", 3)
        assert after[live]["status"] == "succeeded"
        assert (after[orphan]["status"], after[orphan]["attempts"]) == ("retrying", 2)
        error = conn.execute("SELECT data->>'error' AS error FROM transitions"
                             " WHERE entity_id = %s AND trigger = 'fail_attempt'",
                             (orphan,)).fetchone()
        assert error == {"error": "webhook_url is not configured"}
