"""Time travel over HTTP, in both topologies: ``GET /api/v1/payments/{id}?as_of=ISO`` (and
refunds, webhook deliveries; the Razorpay dialect with unix seconds) answers the object as it
stood at that instant, rebuilt from its transitions; before it existed, 404 (Razorpay: 400
"The id provided does not exist"); a malformed ``as_of``, 400 naming it. An instant names its
whole millisecond (a second in the Razorpay dialect), as the API's times show them."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import pytest

from paystate.testing import WebhookReceiver
from tests.support import Client, Front, wait_until
from tests.webhooks_support import new_merchant

FAR_FUTURE = "2999-01-01T00:00:00Z"


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def transitions(client: Client, path: str) -> list[dict[str, Any]]:
    r = client.get(f"{path}/transitions")
    assert r.status_code == 200, r.text
    return list(r.json())


def as_of(client: Client, path: str, at: str) -> dict[str, Any]:
    r = client.get(path, params={"as_of": at})
    assert r.status_code == 200, (at, r.text)
    return dict(r.json())


def upto(history: list[dict[str, Any]], at: str) -> list[dict[str, Any]]:
    """The transitions shown at or before ``at`` (times as the API shows them)."""
    return [t for t in history if when(t["at"]) <= when(at)]


def refunded_payment(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """A payment that succeeded, was captured and partly refunded (refund processed)."""
    order = client.order(10000)
    payment = client.wait_payment(client.upi_payment(order["id"])["id"])
    assert payment["status"] == "success"
    assert client.post(f"/api/v1/payments/{payment['id']}/capture").status_code == 200
    r = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 3000})
    assert r.status_code == 201, r.text
    refund = r.json()
    wait_until(lambda: client.get(f"/api/v1/refunds/{refund['id']}").json()["status"]
               == "processed", 20, 0.1, "refund processed")
    return (client.get(f"/api/v1/payments/{payment['id']}").json(),
            client.get(f"/api/v1/refunds/{refund['id']}").json())


def test_a_payment_and_its_refund_as_of_each_of_their_transitions(client: Client) -> None:
    payment, refund = refunded_payment(client)
    path = f"/api/v1/payments/{payment['id']}"
    history = transitions(client, path)
    assert [t["trigger"] for t in history] == [
        "create", "succeed", "capture", "reserve_refund", "settle_refund"]
    for t in history:
        then = as_of(client, path, t["at"])
        shown = upto(history, t["at"])
        triggers = [s["trigger"] for s in shown]
        assert then["status"] == shown[-1]["to_state"], t
        assert then["captured"] == ("capture" in triggers), t
        assert then["amount_refunded"] == (3000 if "settle_refund" in triggers else 0), t
        assert then["updated_at"] == shown[-1]["at"], t
        # The fields no transition changes are the payment's own.
        assert {k: then[k] for k in ("id", "order_id", "amount", "vpa", "created_at")} == {
            k: payment[k] for k in ("id", "order_id", "amount", "vpa", "created_at")}
    # Any instant after the last change: the payment as it is now.
    assert as_of(client, path, FAR_FUTURE) == payment
    assert as_of(client, path, history[-1]["at"]) == payment

    rpath = f"/api/v1/refunds/{refund['id']}"
    rhistory = transitions(client, rpath)
    assert [t["trigger"] for t in rhistory] == ["create", "process"]
    created = as_of(client, rpath, rhistory[0]["at"])
    if when(rhistory[1]["at"]) > when(rhistory[0]["at"]):
        assert (created["status"], created["processed_at"]) == ("pending", None)
    assert as_of(client, rpath, rhistory[1]["at"]) == refund
    assert refund["processed_at"] == rhistory[1]["at"]


def test_before_it_existed_is_not_found(client: Client) -> None:
    payment, refund = refunded_payment(client)
    for path, what in ((f"/api/v1/payments/{payment['id']}", "Payment"),
                       (f"/api/v1/refunds/{refund['id']}", "Refund")):
        created = when(client.get(path).json()["created_at"])
        before = (created - timedelta(milliseconds=1)).isoformat()
        r = client.get(path, params={"as_of": before})
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "NOT_FOUND_ERROR"
        assert r.json()["error"]["description"] == f"{what} not found"
        # The same instant in another offset is the same instant.
        ist = (created - timedelta(milliseconds=1)).astimezone(
            datetime.fromisoformat("2026-01-01T00:00:00+05:30").tzinfo).isoformat()
        assert client.get(path, params={"as_of": ist}).status_code == 404


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T10:00:00",
                                 "2026-01-01", "１９７０-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00",
                                 "2026-01-01T10:00:00Z" + "0" * 40])
def test_a_malformed_as_of_is_a_400_naming_it(client: Client, bad: str) -> None:
    order = client.order(10000)
    payment = client.upi_payment(order["id"])
    for path in (f"/api/v1/payments/{payment['id']}", "/api/v1/refunds/rfnd_nonexistent000",
                 "/api/v1/webhooks/00000000-0000-0000-0000-000000000000"):
        r = client.get(path, params={"as_of": bad})
        assert r.status_code == 400, (path, bad, r.text)
        assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"
        assert "as_of" in r.json()["error"]["description"]


def test_another_merchants_payment_stays_hidden_at_any_instant(front: Front) -> None:
    payment = front.client.upi_payment(front.client.order(10000)["id"])
    _, stranger = new_merchant(front.settings, front.url)
    r = stranger.get(f"/api/v1/payments/{payment['id']}", params={"as_of": FAR_FUTURE})
    assert r.status_code == 404


def test_a_delivery_as_of_before_and_after_its_failed_attempt(
        front: Front, paystate_webhook_receiver: WebhookReceiver) -> None:
    receiver = paystate_webhook_receiver
    receiver.respond_with(500)
    _, client = new_merchant(front.settings, front.url, webhook_url=receiver.url)
    r = client.post("/api/v1/merchant/webhook/test")
    assert r.status_code == 200, r.text
    did = r.json()["id"]
    path = f"/api/v1/webhooks/{did}"
    wait_until(lambda: client.get(path).json()["attempts"] >= 1, 10, 0.05, "first attempt")
    now = client.get(path).json()
    history = transitions(client, path)
    assert [t["trigger"] for t in history[:2]] == ["create", "fail_attempt"]
    failed = history[1]
    assert failed["data"]["response_code"] == 500 and failed["data"]["attempt"] == 1
    schedule = failed["data"]["schedule"]

    if when(failed["at"]) > when(history[0]["at"]):
        created = as_of(client, path, history[0]["at"])
        assert (created["status"], created["state"], created["attempts"],
                created["response_code"], created["last_attempt_at"],
                created["attempt_log"]) == ("pending", "pending", 0, None, None, [])
        assert created["next_retry_at"] == now["created_at"]
        assert created["payload"] == now["payload"]

    after = as_of(client, path, failed["at"])
    assert (after["status"], after["state"], after["attempts"], after["response_code"]) == (
        "pending", "retrying", 1, 500)
    assert after["last_attempt_at"] == now["attempt_log"][0]["at"]
    assert when(after["next_retry_at"]) - when(failed["at"]) < timedelta(
        seconds=schedule[1], milliseconds=1)
    assert [a["attempt"] for a in after["attempt_log"]] == [1]
    if len(history) == 2:
        assert as_of(client, path, FAR_FUTURE) == now

    created_at = when(now["created_at"])
    r = client.get(path, params={"as_of": (created_at - timedelta(seconds=1)).isoformat()})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND_ERROR"


def razorpay(client: Client) -> Client:
    key, secret = client.auth["X-Api-Key"], client.auth["X-Api-Secret"]
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return Client(client.base, {"Authorization": f"Basic {token}"})


def test_the_razorpay_dialect_fetches_as_of_unix_seconds(client: Client) -> None:
    payment, refund = refunded_payment(client)
    rzp = razorpay(client)
    history = transitions(client, f"/api/v1/payments/{payment['id']}")
    created = int(when(history[0]["at"]).timestamp())
    now = rzp.get(f"/v1/payments/{payment['id']}").json()
    assert (now["status"], now["refund_status"], now["amount_refunded"]) == (
        "captured", "partial", 3000)
    # Its creation's second: created (or already authorized, within the same second).
    first = rzp.get(f"/v1/payments/{payment['id']}", params={"as_of": created})
    assert first.status_code == 200, first.text
    assert first.json()["status"] in ("created", "authorized", "captured")
    assert first.json()["amount_refunded"] in (0, 3000)
    later = rzp.get(f"/v1/payments/{payment['id']}", params={"as_of": 9_999_999_999})
    assert later.json() == now

    missing = rzp.get(f"/v1/payments/{payment['id']}", params={"as_of": created - 1})
    assert missing.status_code == 400
    assert missing.json()["error"]["description"] == "The id provided does not exist"
    for path in (f"/v1/refunds/{refund['id']}",
                 f"/v1/payments/{payment['id']}/refunds/{refund['id']}"):
        assert rzp.get(path, params={"as_of": 9_999_999_999}).json() == rzp.get(path).json()
        gone = rzp.get(path, params={"as_of": int(when(refund["created_at"]).timestamp()) - 1})
        assert gone.status_code == 400, gone.text
    bad = rzp.get(f"/v1/payments/{payment['id']}", params={"as_of": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "as_of"
    other = rzp.get(f"/v1/payments/{payment['id']}", params={"count": 1})
    assert other.status_code == 400
