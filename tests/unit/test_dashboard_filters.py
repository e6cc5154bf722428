"""The dashboard's pure pieces: the date range and amounts its forms read, the CSV cells of its
exports (quoting and the formula guard), the search's LIKE prefix, and what a delivery's body
is about."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from paystate.dashboard import csv_export
from paystate.dashboard.filters import date_range, paise
from paystate.dashboard.views import delivery_object, pretty_json
from paystate.engine.dashboard_lists import like_prefix, search_matches
from paystate.engine.webhooks.messages import event_key, key_object_id
from paystate.machines.errors import ValidationError


def test_a_date_range_is_whole_utc_days_and_drops_what_does_not_parse() -> None:
    r = date_range("2024-02-28", "2024-02-29")
    assert (r.start, r.end) == ("2024-02-28", "2024-02-29")
    assert r.window.start == datetime(2024, 2, 28, tzinfo=UTC)
    assert r.window.end == datetime(2024, 3, 1, tzinfo=UTC)
    assert r.query() == {"from": "2024-02-28", "to": "2024-02-29"}
    r = date_range("yesterday", "2024-13-01")
    assert (r.start, r.end, r.window.start, r.window.end, r.query()) == ("", "", None, None, {})


@pytest.mark.parametrize(("text", "expected"), [
    ("250", 25000), ("12.50", 1250), ("0.29", 29), ("1,000.5", 100050), (" 7 ", 700)])
def test_an_amount_in_rupees_is_exact_paise(text: str, expected: int) -> None:
    assert paise(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-5", "+5", "1.234", "abc", "NaN", "Infinity",
                                  "1e3", "9" * 20])
def test_an_amount_that_is_not_rupees_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        paise(text)


def test_csv_cells_are_quoted_and_guarded_against_formulas() -> None:
    rows = [{"id": "rfnd_1", "payment_id": "pay_1", "order_id": "order_1", "amount": 300,
             "currency": "INR", "reason": reason, "status": "processed",
             "created_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "processed_at": None}
            for reason in ("=1+2", "+1", "-2", "@sum(A1)", "\tx", "a, \"b\"\nc", "fine")]
    text = csv_export.heading(csv_export.REFUNDS) + csv_export.body(csv_export.REFUNDS, rows)
    read = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["reason"] for r in read] == ["'=1+2", "'+1", "'-2", "'@sum(A1)", "'\tx",
                                           "a, \"b\"\nc", "fine"]
    assert {(r["amount"], r["created_at"], r["processed_at"]) for r in read} == {
        ("300", "2024-01-02T03:04:05Z", "")}


def test_like_prefix_escapes_wildcards() -> None:
    assert like_prefix("pay_Bs%u\\") == "pay\\_Bs\\%u\\\\%"


def test_search_adds_the_vpa_email_and_last4_lookups_only_for_text_that_can_be_one() -> None:
    plain, params = search_matches("m", False, "rcpt_1")
    assert "vpa" not in plain and "card_last4" not in plain and "rcpt_1" in params
    at, _ = search_matches("m", False, "a@b")
    assert "lower(vpa)" in at and "notes->>'email'" in at and "card_last4" not in at
    digits, _ = search_matches("m", False, "4242")
    assert "card_last4" in digits


def test_a_delivery_names_its_object_in_either_format() -> None:
    native = json.dumps({"event": "refund.created", "data": {"refund": {"id": "rfnd_1"}}})
    assert delivery_object(native) == ("/dashboard/states/refund/rfnd_1", "rfnd_1")
    razorpay = json.dumps({"event": "payment.captured",
                           "payload": {"payment": {"entity": {"id": "pay_1"}}}})
    assert delivery_object(razorpay) == ("/dashboard/payments/pay_1", "pay_1")
    assert delivery_object(json.dumps({"event": "webhook.test", "data": {}})) is None
    assert delivery_object("not json") is None
    assert pretty_json("not json") == "not json"
    assert pretty_json('{"a":1}') == '{\n  "a": 1\n}'


def test_an_event_key_names_its_object() -> None:
    assert key_object_id(event_key({"event": "payment.success", "entity_id": "pay_1"})) == "pay_1"
    assert key_object_id(event_key({"event": "webhook.test"})) is None
    assert key_object_id("webhook.test:abc") is None
