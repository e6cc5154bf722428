"""Test mode: the instrument decides a payment's outcome (docs/api.md "Test instruments"),
over HTTP against each topology; TEST_PAYMENT_SUCCESS=false still fails everything; the stored
row keeps the outcome, never the card number, and a settlement from PostgreSQL alone (the
sweeper, as after a restart) applies it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from paystate.config import Settings
from paystate.engine.clock import ManualClock
from tests.support import Client, Front, ThreadGateway, make_settings, manual_gateway

DECLINED = ("PAYMENT_FAILED", "Payment declined by bank")


def card(number: str) -> dict[str, Any]:
    return {"number": number, "expiry_month": 12, "expiry_year": 2099, "cvv": "123",
            "holder_name": "Asha Rao"}


def pay(client: Client, instrument: dict[str, Any]) -> dict[str, Any]:
    order = client.order()
    r = client.post("/api/v1/payments", {"order_id": order["id"], **instrument})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    return r.json()


def upi(vpa: str) -> dict[str, Any]:
    return {"method": "upi", "vpa": vpa}


def by_card(number: str) -> dict[str, Any]:
    return {"method": "card", "card": card(number)}


@pytest.mark.parametrize(("instrument", "status", "error"), [
    (upi("success@paystate"), "success", (None, None)),
    (upi("failure@paystate"), "failed", DECLINED),
    (upi("shopper@okbank"), "success", (None, None)),
    (by_card("4111 1111 1111 1111"), "success", (None, None)),
    (by_card("4242 4242 4242 4242"), "success", (None, None)),
    (by_card("4000 0000 0000 0002"), "failed", ("CARD_DECLINED", "Card declined by the issuer")),
    (by_card("4000 0000 0000 9995"), "failed", ("INSUFFICIENT_FUNDS", "Insufficient funds")),
    (by_card("5555 5555 5555 4444"), "success", (None, None)),
], ids=["success-vpa", "failure-vpa", "other-vpa", "4111", "4242", "0002", "9995", "other-card"])
def test_the_instrument_decides_a_test_mode_payment(client: Client, instrument: dict[str, Any],
                                                    status: str,
                                                    error: tuple[str | None, str | None]) -> None:
    payment = pay(client, instrument)
    done = client.wait_payment(payment["id"])
    assert (done["status"], done["error_code"], done["error_description"]) == (status, *error)
    order = client.get(f"/api/v1/orders/{done['order_id']}").json()
    assert order["status"] == ("paid" if status == "success" else "created")
    if status == "failed":
        # The history says why, as the payment does.
        last = client.get(f"/api/v1/payments/{payment['id']}/transitions").json()[-1]
        assert (last["trigger"], last["data"]["error_code"]) == ("fail", error[0])


def test_test_payment_success_false_fails_even_the_success_instruments(
        base_settings: Settings) -> None:
    with ThreadGateway(make_settings(test_payment_success=False)) as gw:
        for instrument in (upi("success@paystate"), by_card("4242 4242 4242 4242"),
                           by_card("4000 0000 0000 9995"), upi("shopper@okbank")):
            done = gw.client.wait_payment(pay(gw.client, instrument)["id"])
            assert (done["status"], done["error_code"], done["error_description"]) == (
                "failed", *DECLINED)


def stored_payment(settings: Settings, payment_id: str) -> dict[str, Any]:
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT to_jsonb(p) AS row FROM payments p WHERE id = %s",
                           (payment_id,)).fetchone()
    assert row is not None
    return row["row"]  # type: ignore[no-any-return]


def test_the_stored_row_keeps_the_outcome_and_never_the_card_number(front: Front) -> None:
    payment = pay(front.client, by_card("4000-0000-0000-0002"))
    row = stored_payment(front.settings, payment["id"])
    assert row["test_outcome"] == "CARD_DECLINED"
    assert (row["card_network"], row["card_last4"]) == ("visa", "0002")
    assert not {"number", "card_number", "cvv"} & set(row)
    text = str(row)
    assert "4000000000000002" not in text and "4000-0000" not in text


@pytest.fixture
def without_workers(base_settings: Settings) -> Iterator[tuple[ThreadGateway, ManualClock]]:
    """No consumer of the job streams: only the sweeper, run by the test, settles."""
    with manual_gateway() as pair:
        yield pair


def test_a_settlement_from_postgresql_alone_applies_the_stored_outcome(
        without_workers: tuple[ThreadGateway, ManualClock]) -> None:
    gw, clock = without_workers
    payment = pay(gw.client, by_card("4000 0000 0000 9995"))
    assert gw.runtime is not None and gw.runtime.processor is not None
    clock.advance(timedelta(seconds=10))
    assert gw.runtime.processor.sweep_once() >= 1
    done = gw.client.wait_payment(payment["id"])
    assert (done["status"], done["error_code"]) == ("failed", "INSUFFICIENT_FUNDS")


def live_client(gw: ThreadGateway) -> Client:
    """A new merchant's live keys on ``gw``."""
    assert gw.runtime is not None and gw.runtime.accounts is not None
    tag = uuid.uuid4().hex[:8]
    keys = gw.runtime.accounts.create_account(f"Live {tag}", f"live-{tag}@example.com")[
        "keys"]["live"]
    return Client(gw.url, {"X-Api-Key": keys["api_key"], "X-Api-Secret": keys["api_secret"]})


def test_outside_test_mode_the_acquirer_decides_live_payments_whatever_the_instrument(
        base_settings: Settings) -> None:
    """The simulated bank told to decline everything: with live keys a success instrument
    fails too, and nothing of the instrument's verdict is stored. With test keys the
    instrument decides, TEST_MODE or not."""
    settings = make_settings(test_mode=False, seed_test_merchant=True, upi_success_rate=0.0,
                             card_success_rate=0.0, processing_delay_min_ms=100,
                             processing_delay_max_ms=300)
    with ThreadGateway(settings) as gw:
        live = live_client(gw)
        for instrument in (upi("success@paystate"), by_card("4242 4242 4242 4242")):
            payment = pay(live, instrument)
            assert stored_payment(gw.settings, payment["id"])["test_outcome"] is None
            done = live.wait_payment(payment["id"])
            assert (done["status"], done["error_code"], done["error_description"]) == (
                "failed", *DECLINED)
        # The demo merchant's keys are test keys: its payments are test-mode payments.
        payment = pay(gw.client, by_card("4242 4242 4242 4242"))
        assert gw.client.wait_payment(payment["id"])["status"] == "success"
        payment = pay(gw.client, by_card("4000 0000 0000 0002"))
        assert gw.client.wait_payment(payment["id"])["error_code"] == "CARD_DECLINED"


def test_the_checkout_page_shows_test_mode_and_its_instruments_only_in_test_mode(
        client: Client, base_settings: Settings) -> None:
    order = client.order()
    page = client.get(f"/checkout?order_id={order['id']}", auth=False)
    assert page.status_code == 200
    assert 'data-test-id="test-mode-badge"' in page.text
    for shown in ("success@paystate", "failure@paystate", "4111 1111 1111 1111",
                  "4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0000 0000 9995"):
        assert f'data-value="{shown}"' in page.text
    assert "Card declined by the issuer (CARD_DECLINED)" in page.text
    with ThreadGateway(make_settings(test_mode=False, seed_test_merchant=True)) as gw:
        # Outside TEST_MODE: a live-mode order's page shows neither; a test-mode order's both.
        live = live_client(gw)
        page = gw.client.get(f"/checkout?order_id={live.order()['id']}", auth=False)
        assert page.status_code == 200
        assert "test-mode-badge" not in page.text and "test-instrument" not in page.text
        page = gw.client.get(f"/checkout?order_id={gw.client.order()['id']}", auth=False)
        assert 'data-test-id="test-mode-badge"' in page.text
