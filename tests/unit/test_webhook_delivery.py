"""The webhook delivery machine, its backoff and classification, the signatures (checked with the
unmodified ``standardwebhooks`` package) and the URL guard: pure functions, no services."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from standardwebhooks import Webhook
from transitions import MachineError

from paystate.dashboard.diagram import graph_of, mermaid
from paystate.engine.secrets_hash import new_webhook_secret
from paystate.engine.webhooks.urls import check_webhook_url, is_forbidden, parse_webhook_url
from paystate.machines.errors import ValidationError
from paystate.machines.spec import build_machine
from paystate.machines.webhook import (
    PRODUCTION_SCHEDULE,
    TEST_SCHEDULE,
    WEBHOOK_DELIVERY,
    WebhookDelivery,
    delivered,
    next_attempt_at,
    trigger_after_attempt,
)
from paystate.machines.webhook_signing import (
    serialise_body,
    signed_headers,
    standard_key,
    verify_hex_signature,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def delivery(state: str = "pending", attempts: int = 0) -> WebhookDelivery:
    return WebhookDelivery(id="d1", merchant_id="m", event="payment.success", event_key="k",
                           payload="{}", state=state, attempts=attempts, next_retry_at=NOW,
                           last_attempt_at=None, response_code=None, lease_owner="w",
                           lease_token="t", lease_until=NOW, version=1, created_at=NOW,
                           updated_at=NOW)


class Applier:
    """What the engine's hook does, minus the database: apply each transition's effect."""

    def __call__(self, event: Any) -> None:
        spec = WEBHOOK_DELIVERY.transition(event.event.name, event.model.state)
        assert spec is not None
        for name, value in spec.effect(event.model, dict(event.kwargs)).items():
            setattr(event.model, name, value)


def attempt(machine: Any, d: WebhookDelivery, status: int | None, at: datetime,
            schedule: tuple[int, ...] = PRODUCTION_SCHEDULE) -> str:
    trigger = trigger_after_attempt(d, status, schedule)
    assert machine.events[trigger].trigger(d, at=at, attempted_at=at, schedule=schedule,
                                           response_code=status)
    return trigger


def test_backoff_is_a_pure_function_of_attempt_schedule_and_now() -> None:
    assert [next_attempt_at(n, PRODUCTION_SCHEDULE, NOW) for n in range(1, 6)] == [
        NOW, NOW + timedelta(minutes=1), NOW + timedelta(minutes=5),
        NOW + timedelta(minutes=30), NOW + timedelta(hours=2)]
    assert [next_attempt_at(n, TEST_SCHEDULE, NOW) for n in range(1, 6)] == [
        NOW + timedelta(seconds=s) for s in (0, 5, 10, 15, 20)]
    assert next_attempt_at(6, PRODUCTION_SCHEDULE, NOW) is None
    assert next_attempt_at(0, PRODUCTION_SCHEDULE, NOW) is None


def test_any_2xx_is_delivered_and_nothing_else() -> None:
    assert all(delivered(code) for code in (200, 201, 204, 299))
    assert not any(delivered(code) for code in (None, 199, 301, 302, 400, 404, 500, 503))


def test_five_failures_walk_the_schedule_then_fail() -> None:
    machine = build_machine(WEBHOOK_DELIVERY, Applier())
    d, at, seen = delivery(), NOW, []
    for _ in range(5):
        seen.append((attempt(machine, d, 500, at), d.state, d.next_retry_at))
        at = d.next_retry_at or at
    assert [s[0] for s in seen] == ["fail_attempt"] * 4 + ["give_up"]
    assert [s[1] for s in seen] == ["retrying"] * 4 + ["failed"]
    assert [s[2] for s in seen] == [NOW + timedelta(minutes=1), NOW + timedelta(minutes=6),
                                    NOW + timedelta(minutes=36),
                                    NOW + timedelta(hours=2, minutes=36), None]
    assert d.attempts == 5 and d.response_code == 500 and d.lease_token is None
    with pytest.raises(MachineError):
        machine.events["succeed"].trigger(d, at=at, attempted_at=at,
                                          schedule=PRODUCTION_SCHEDULE)


def test_success_after_a_failure_and_guards_hold_the_schedule() -> None:
    machine = build_machine(WEBHOOK_DELIVERY, Applier())
    d = delivery()
    assert attempt(machine, d, None, NOW) == "fail_attempt"
    assert attempt(machine, d, 204, NOW) == "succeed"
    assert (d.state, d.attempts, d.next_retry_at, d.response_code) == ("succeeded", 2, None, 204)
    # Guards refuse the wrong one of fail_attempt / give_up.
    last = delivery("retrying", attempts=4)
    assert not machine.events["fail_attempt"].trigger(
        last, at=NOW, attempted_at=NOW, schedule=PRODUCTION_SCHEDULE)
    early = delivery("retrying", attempts=1)
    assert not machine.events["give_up"].trigger(
        early, at=NOW, attempted_at=NOW, schedule=PRODUCTION_SCHEDULE)


def test_manual_retry_resets_attempts_from_final_or_retrying_states_only() -> None:
    machine = build_machine(WEBHOOK_DELIVERY, Applier())
    for state in ("failed", "succeeded", "retrying"):
        d = delivery(state, attempts=5 if state == "failed" else 1)
        later = NOW + timedelta(hours=3)
        assert machine.events["retry"].trigger(d, at=later, schedule=PRODUCTION_SCHEDULE)
        assert (d.state, d.attempts, d.next_retry_at) == ("pending", 0, later)
    with pytest.raises(MachineError):
        machine.events["retry"].trigger(delivery("pending"), at=NOW,
                                        schedule=PRODUCTION_SCHEDULE)
    assert "failed --> pending: retry" in mermaid(graph_of(WEBHOOK_DELIVERY))


def test_body_is_compact_json_and_both_signatures_verify() -> None:
    body = serialise_body("payment.success", 1_790_000_000, {"payment": {"id": "pay_1",
                                                                         "note": "é"}})
    assert body == ('{"event":"payment.success","timestamp":1790000000,'
                    '"data":{"payment":{"id":"pay_1","note":"\\u00e9"}}}')
    raw = body.encode()
    secret = new_webhook_secret()
    with freeze_time("2026-11-26T12:00:00Z"):
        ts = int(datetime.now(UTC).timestamp())
        headers = signed_headers(secret, "d-1", ts, raw)
        assert headers["X-Webhook-Signature"] == hmac.new(
            secret.encode(), raw, hashlib.sha256).hexdigest()
        assert verify_hex_signature(secret, raw, headers["X-Webhook-Signature"])
        # The seed README's header name carries the very same hex HMAC.
        assert headers["X-Signature"] == headers["X-Webhook-Signature"]
        assert headers["webhook-id"] == "d-1" and headers["webhook-timestamp"] == str(ts)
        assert Webhook(secret).verify(raw, headers)["event"] == "payment.success"


def test_the_seeded_legacy_secret_also_verifies_with_standardwebhooks() -> None:
    legacy = "whsec_test_abc123"
    # The documented rule: the reference verifier's lenient base64 of the part after whsec_.
    assert standard_key(legacy) == Webhook(legacy)._whsecret
    raw = b'{"event":"webhook.test"}'
    with freeze_time("2026-11-26T12:00:00Z"):
        ts = int(datetime.now(UTC).timestamp())
        Webhook(legacy).verify(raw, signed_headers(legacy, "d-2", ts, raw))
    # Undecodable rest: the UTF-8 bytes of the part after whsec_ are the key.
    assert standard_key("whsec_abcde") == b"abcde"


def test_url_syntax() -> None:
    assert parse_webhook_url("https://merchant.example/hooks?x=1").hostname == "merchant.example"
    for bad in (None, 5, "", "ftp://x.example/", "https://", "https://u:p@x.example/",
                "http://x.example:99999/", " https://x.example/", "https://x.exa mple/",
                "https://x.example/" + "a" * 3000):
        with pytest.raises(ValidationError):
            parse_webhook_url(bad)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1",
                                     "169.254.169.254", "0.0.0.0", "::1", "fe80::1",
                                     "fc00::1", "::ffff:127.0.0.1", "100.64.0.1", "224.0.0.1"])
def test_private_loopback_and_link_local_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden(ipaddress.ip_address(address))


def test_public_addresses_are_allowed() -> None:
    assert not is_forbidden(ipaddress.ip_address("93.184.216.34"))
    assert not is_forbidden(ipaddress.ip_address("2606:2800:220:1::1"))


def test_check_refuses_private_literals_and_localhost_unless_allowed() -> None:
    async def check(url: str, allow: bool) -> str:
        return await check_webhook_url(url, allow)

    for url in ("http://127.0.0.1:8080/h", "http://[::1]/h", "http://169.254.169.254/latest",
                "http://localhost:9000/h"):
        with pytest.raises(ValidationError):
            asyncio.run(check(url, False))
        assert asyncio.run(check(url, True)) == url
    assert asyncio.run(check("https://93.184.216.34/h", False)) == "https://93.184.216.34/h"
