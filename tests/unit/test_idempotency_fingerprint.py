"""The request fingerprint behind Idempotency-Key: what makes two requests "the same"."""

from __future__ import annotations

from paystate.http.idempotency import fingerprint

CARD = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2099, "cvv": "123",
        "holder_name": "Asha"}


def test_key_order_and_whitespace_of_the_body_do_not_matter() -> None:
    a = fingerprint("POST", "/api/v1/orders", {"amount": 100, "notes": {"x": 1, "y": "é"}})
    b = fingerprint("post", "/api/v1/orders", {"notes": {"y": "é", "x": 1}, "amount": 100})
    assert a == b and len(a) == 64


def test_method_path_and_every_value_matter() -> None:
    base = fingerprint("POST", "/api/v1/orders", {"amount": 100})
    assert fingerprint("PUT", "/api/v1/orders", {"amount": 100}) != base
    assert fingerprint("POST", "/api/v1/payments", {"amount": 100}) != base
    assert fingerprint("POST", "/api/v1/orders", {"amount": 101}) != base
    assert fingerprint("POST", "/api/v1/orders", {"amount": "100"}) != base
    assert fingerprint("POST", "/api/v1/orders", {"amount": 100, "receipt": None}) != base


def test_a_card_counts_by_its_last_four_digits_only() -> None:
    path = "/api/v1/payments"
    body = {"order_id": "order_x", "method": "card", "card": CARD}
    same = fingerprint("POST", path, body)
    assert fingerprint("POST", path, {**body, "card": {**CARD, "cvv": "999"}}) == same
    assert fingerprint("POST", path, {**body, "card": {**CARD, "number": "4111111111111111"}}) \
        == same
    assert fingerprint("POST", path, {**body, "card": {**CARD, "number": "4111111111112222"}}) \
        != same
    assert fingerprint("POST", path, {**body, "card": {**CARD, "expiry_month": 11}}) != same
    assert CARD["cvv"] == "123" and CARD["number"] == "4111 1111 1111 1111"  # input untouched
