"""The request fingerprint behind Idempotency-Key: what makes two requests "the same"."""

from __future__ import annotations

from paystate.engine.keyed_creates import fingerprint

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


def test_the_whole_card_counts_through_a_keyed_hash() -> None:
    """Two cards that share their last four digits are different requests (finding: the same
    key with another card replayed the first payment); the card enters only as an HMAC."""
    path = "/api/v1/payments"
    key = b"k" * 32
    body = {"order_id": "order_x", "method": "card", "card": CARD}
    same = fingerprint("POST", path, body, key)
    assert fingerprint("POST", path, {**body, "card": {**CARD, "number": "4111111111111111"}},
                       key) == same  # formatting is not the card
    for change in ({"cvv": "999"}, {"number": "5500 0000 0000 1111"},
                   {"number": "4111 1111 1111 2222"}, {"expiry_month": 11},
                   {"expiry_year": 2098}, {"holder_name": "Ravi"}):
        assert fingerprint("POST", path, {**body, "card": {**CARD, **change}}, key) != same
    # Without the gateway's key the same card gives another fingerprint: nothing to brute-force.
    assert fingerprint("POST", path, body, b"x" * 32) != same
    assert CARD["cvv"] == "123" and CARD["number"] == "4111 1111 1111 1111"  # input untouched
