"""The webhook and merchant-settings API over real PostgreSQL and Redis: settings, the signed test
delivery, listing, ownership, and the five-attempt schedule ending in a manual retry."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

from standardwebhooks import Webhook

from paystate.config import Settings
from paystate.engine.clock import ManualClock, SystemClock
from paystate.testing import WebhookReceiver
from tests.support import Front, ThreadGateway, make_settings, wait_until
from tests.webhooks_support import attempts_of, new_merchant, rows


def test_merchant_profile_url_and_secret(front: Front,
                                         paystate_webhook_receiver: WebhookReceiver) -> None:
    merchant_id, client = new_merchant(front.settings, front.url)
    profile = client.get("/api/v1/merchant").json()
    assert profile["id"] == merchant_id and profile["webhook_url"] is None
    assert profile["webhook_secret"].startswith("whsec_")
    assert client.get("/api/v1/merchant", auth=False).status_code == 401

    for bad in ({"url": "ftp://files.example/x"}, {"url": 5}, {}, {"url": "https://"},
                {"url": "https://user:pw@hooks.example/"}):
        r = client.put("/api/v1/merchant/webhook", bad)
        assert r.status_code == 400, bad
        assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    r = client.put("/api/v1/merchant/webhook", {"url": paystate_webhook_receiver.url})
    assert r.status_code == 200 and r.json()["webhook_url"] == paystate_webhook_receiver.url
    assert client.get("/api/v1/merchant").json()["webhook_url"] == paystate_webhook_receiver.url

    rotated = client.post("/api/v1/merchant/webhook/secret")
    assert rotated.status_code == 200
    secret = rotated.json()["webhook_secret"]
    assert secret != profile["webhook_secret"] and secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
    assert client.get("/api/v1/merchant").json()["webhook_secret"] == secret

    cleared = client.put("/api/v1/merchant/webhook", {"url": None})
    assert cleared.status_code == 200 and cleared.json()["webhook_url"] is None
    refused = client.post("/api/v1/merchant/webhook/test")
    assert refused.status_code == 400
    assert refused.json()["error"]["description"] == "Webhook URL is not configured"


def test_private_targets_are_refused_outside_test_mode(base_settings: Settings) -> None:
    strict = ThreadGateway(make_settings(test_mode=False)).start()
    try:
        _, client = new_merchant(strict.settings, strict.url)
        for url in ("http://127.0.0.1:9/hook", "http://localhost:8080/hook",
                    "http://169.254.169.254/latest/meta-data", "http://10.0.0.7/hook",
                    "http://[::1]/hook", "http://192.168.1.20/hook"):
            r = client.put("/api/v1/merchant/webhook", {"url": url})
            assert r.status_code == 400, url
            assert "private" in r.json()["error"]["description"]
        # A public address is fine (an IP literal: no DNS lookup needed in the test).
        ok = client.put("/api/v1/merchant/webhook", {"url": "https://93.184.216.34/hook"})
        assert ok.status_code == 200
    finally:
        strict.stop()
    allowed = ThreadGateway(make_settings(test_mode=False, webhook_allow_private=True)).start()
    try:
        _, client = new_merchant(allowed.settings, allowed.url)
        r = client.put("/api/v1/merchant/webhook", {"url": "http://127.0.0.1:9/hook"})
        assert r.status_code == 200
    finally:
        allowed.stop()


def test_test_webhook_is_delivered_signed_twice_and_returned(
        front: Front, paystate_webhook_receiver: WebhookReceiver) -> None:
    merchant_id, client = new_merchant(front.settings, front.url,
                                       webhook_url=paystate_webhook_receiver.url)
    secret = client.post("/api/v1/merchant/webhook/secret").json()["webhook_secret"]
    r = client.post("/api/v1/merchant/webhook/test")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["event"] == "webhook.test"
    assert (body["status"], body["state"]) == ("success", "succeeded")
    assert body["attempts"] == 1 and body["response_code"] == 200
    assert body["payload"]["event"] == "webhook.test"
    assert body["payload"]["data"]["merchant_id"] == merchant_id
    [log] = body["attempt_log"]
    assert log["response_code"] == 200 and log["response_body"] == "ok" and log["error"] is None
    assert list(log) == ["attempt", "at", "response_code", "duration_ms", "response_body",
                         "error"]
    # The attempt is the succeed transition's data, which shows it but for the worker.
    [_create, succeed] = client.get(f"/api/v1/webhooks/{body['id']}/transitions").json()
    assert succeed["trigger"] == "succeed" and "worker" not in succeed["data"]
    assert {k: succeed["data"][k] for k in ("attempt", "response_code", "duration_ms",
                                            "response_body")} == {
        k: log[k] for k in ("attempt", "response_code", "duration_ms", "response_body")}
    assert rows(front.settings, "SELECT data->>'worker' AS w FROM transitions"
                " WHERE entity_id = %s AND seq = 2", body["id"])[0]["w"]

    [request] = paystate_webhook_receiver.requests
    stored = rows(front.settings, "SELECT payload FROM webhook_logs WHERE id = %s",
                  body["id"])[0]["payload"]
    assert request.body == stored.encode()  # byte for byte what was stored and signed
    assert json.loads(request.body) == body["payload"]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == body["id"]
    assert request.verify(secret)
    assert Webhook(secret).verify(request.body, request.headers)["event"] == "webhook.test"


def test_the_seeded_merchants_legacy_secret_verifies_too(
        front: Front, paystate_webhook_receiver: WebhookReceiver) -> None:
    client = front.client  # the seeded test merchant, secret whsec_test_abc123
    assert client.put("/api/v1/merchant/webhook",
                      {"url": paystate_webhook_receiver.url}).status_code == 200
    try:
        r = client.post("/api/v1/merchant/webhook/test")
        assert r.json()["status"] == "success", r.text
        # The seeded merchant is every test's: its other events may reach the receiver too.
        [request] = [q for q in paystate_webhook_receiver.requests
                     if json.loads(q.body)["event"] == "webhook.test"]
        assert request.verify("whsec_test_abc123")
        Webhook("whsec_test_abc123").verify(request.body, request.headers)
    finally:
        client.put("/api/v1/merchant/webhook", {"url": None})


def test_list_is_newest_first_paginated_and_only_ones_own(
        front: Front, paystate_webhook_receiver: WebhookReceiver) -> None:
    _, client = new_merchant(front.settings, front.url,
                             webhook_url=paystate_webhook_receiver.url)
    ids = [client.post("/api/v1/merchant/webhook/test").json()["id"] for _ in range(3)]
    page = client.get("/api/v1/webhooks").json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 10, 0)
    assert [d["id"] for d in page["data"]] == ids[::-1]
    assert set(page["data"][0]) == {"id", "event", "status", "state", "attempts", "livemode",
                                    "endpoint_id", "event_id", "created_at",
                                    "last_attempt_at", "next_retry_at", "response_code"}
    second = client.get("/api/v1/webhooks?limit=2&offset=1").json()
    assert [d["id"] for d in second["data"]] == [ids[1], ids[0]] and second["total"] == 3
    for query in ("limit=101", "limit=0", "offset=-1", "limit=abc"):
        assert client.get(f"/api/v1/webhooks?{query}").status_code == 400, query
    assert client.get("/api/v1/webhooks?limit=100").status_code == 200

    _, stranger = new_merchant(front.settings, front.url)
    assert stranger.get("/api/v1/webhooks").json()["total"] == 0
    for path in (f"/api/v1/webhooks/{ids[0]}", f"/api/v1/webhooks/{ids[0]}/transitions",
                 "/api/v1/webhooks/not-a-uuid", "/api/v1/webhooks/" + "0" * 8 + "-0000-4000-"
                 "8000-" + "0" * 12):
        r = stranger.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND_ERROR", path
    r = stranger.post(f"/api/v1/webhooks/{ids[0]}/retry")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert client.get("/api/v1/webhooks", auth=False).status_code == 401


def test_five_failed_attempts_then_a_manual_retry(base_settings: Settings) -> None:
    """The production schedule under a manual clock: each retry is made once it is due."""
    clock = ManualClock(SystemClock().now())
    gateway = ThreadGateway(make_settings(), clock=clock).start()
    receiver = WebhookReceiver().start()
    try:
        receiver.respond_with(500)
        _, client = new_merchant(gateway.settings, gateway.url, webhook_url=receiver.url)
        first = client.post("/api/v1/merchant/webhook/test").json()
        did = first["id"]
        assert (first["status"], first["state"], first["attempts"], first["response_code"]) == (
            "pending", "retrying", 1, 500)

        def detail() -> dict:
            return client.get(f"/api/v1/webhooks/{did}").json()

        failures = [clock.now()]
        for n, delay in enumerate((60, 300, 1800, 7200), start=2):
            due = datetime.fromisoformat(detail()["next_retry_at"])
            assert abs(due - (failures[-1] + timedelta(seconds=delay))) < timedelta(seconds=1)
            clock.advance(timedelta(seconds=delay - 1))
            assert detail()["attempts"] == n - 1  # not due yet: nothing happens
            clock.advance(timedelta(seconds=1))
            wait_until(lambda n=n: detail()["attempts"] == n, 10, 0.05, f"attempt {n}")
            failures.append(clock.now())
        failed = detail()
        assert (failed["status"], failed["state"], failed["attempts"], failed["next_retry_at"]) == (
            "failed", "failed", 5, None)
        assert len(failed["attempt_log"]) == 5

        receiver.respond_with(200)
        clock.advance(timedelta(minutes=10))  # the merchant fixed the endpoint, and retries
        r = client.post(f"/api/v1/webhooks/{did}/retry")
        assert r.status_code == 200
        assert r.json() == {"id": did, "status": "pending", "state": "pending",
                            "message": "Webhook retry scheduled"}
        wait_until(lambda: detail()["status"] == "success", 10, 0.05, "retried delivery")
        done = detail()
        assert done["attempts"] == 1 and len(done["attempt_log"]) == 6
        history = client.get(f"/api/v1/webhooks/{did}/transitions").json()
        assert [(t["from_state"], t["to_state"], t["trigger"]) for t in history] == [
            (None, "pending", "create"), ("pending", "retrying", "fail_attempt"),
            ("retrying", "retrying", "fail_attempt"), ("retrying", "retrying", "fail_attempt"),
            ("retrying", "retrying", "fail_attempt"), ("retrying", "failed", "give_up"),
            ("failed", "pending", "retry"), ("pending", "succeeded", "succeed")]
        # One request per attempt, all with the delivery's id, each stamped with its own time.
        sent = receiver.for_delivery(did)
        assert len(sent) == 6 == len(attempts_of(gateway.settings, did))
        stamps = [int(r.headers["webhook-timestamp"]) for r in sent]
        assert stamps == sorted(stamps) and len(set(stamps)) == 6
        jobs = client.get("/api/v1/test/jobs/status", auth=False).json()
        assert jobs["failed"] >= 5 and jobs["completed"] >= 1
    finally:
        receiver.stop()
        gateway.stop()
