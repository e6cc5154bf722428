"""VPA and card validation, card networks, test-mode outcomes: pure functions."""

from __future__ import annotations

from datetime import date

import pytest

from paystate.machines.errors import ValidationError
from paystate.machines.instruments import (
    TEST_DECLINES,
    TEST_INSTRUMENTS,
    TEST_SUCCESS,
    card_network,
    instrument_outcome,
    luhn_ok,
    settled_as,
    validate_card,
    validate_vpa,
)
from paystate.machines.payment import APPROVED

TODAY = date(2026, 11, 26)


def card(number: str = "4111111111111111", month: object = 12, year: object = 2030,
         cvv: str = "123") -> dict[str, object]:
    return {"number": number, "expiry_month": month, "expiry_year": year, "cvv": cvv,
            "holder_name": "A"}


@pytest.mark.parametrize("vpa", ["user@okhdfc", "a.b-c_d@ybl", "9876543210@paytm"])
def test_valid_vpas(vpa: str) -> None:
    assert validate_vpa(vpa) == vpa


@pytest.mark.parametrize("vpa", ["", "user", "user@", "@bank", "us er@bank", "u@ba-nk",
                                 "u@bank.com", 123, None, "a@b@c"])
def test_invalid_vpas(vpa: object) -> None:
    with pytest.raises(ValidationError) as err:
        validate_vpa(vpa)
    assert err.value.code == "INVALID_VPA"


@pytest.mark.parametrize("number,network", [
    ("4111111111111111", "visa"), ("5555555555554444", "mastercard"),
    ("378282246310005", "amex"), ("6011111111111117", "rupay"),
    ("8112345678901239", "rupay"), ("3530111333300000", "unknown")])
def test_networks(number: str, network: str) -> None:
    assert luhn_ok(number)
    assert card_network(number) == network
    assert validate_card(card(number), TODAY).network == network


def test_spaces_and_dashes_are_stripped_and_only_last4_kept() -> None:
    summary = validate_card(card("4111-1111 1111-1111"), TODAY)
    assert summary.last4 == "1111"
    assert "4111111111111111" not in repr(summary)


@pytest.mark.parametrize("number", ["4111111111111112", "411111111111", "4" * 20, "abcd",
                                    "４１１１１１１１１１１１１１１１"])
def test_invalid_numbers(number: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_card(card(number), TODAY)
    assert err.value.code == "INVALID_CARD"


@pytest.mark.parametrize("month,year", [(13, 2030), (0, 2030), (10, 2026), (12, 2025), (10, 26),
                                        ("x", 2030), (True, 2030)])
def test_expired_or_invalid_expiry(month: object, year: object) -> None:
    with pytest.raises(ValidationError) as err:
        validate_card(card(month=month, year=year), TODAY)
    assert err.value.code == "EXPIRED_CARD"


@pytest.mark.parametrize("month,year", [(11, 2026), (11, 26), ("12", "30"), (1, 2027)])
def test_current_month_and_two_digit_years_are_valid(month: object, year: object) -> None:
    validate_card(card(month=month, year=year), TODAY)


@pytest.mark.parametrize("cvv", ["12", "12345", "abc", ""])
def test_bad_cvv(cvv: str) -> None:
    with pytest.raises(ValidationError):
        validate_card(card(cvv=cvv), TODAY)


@pytest.mark.parametrize("vpa", ["a@okbank\n", "a@okbank\r\n", "\na@okbank", "a@ok bank"])
def test_a_vpa_must_match_as_a_whole(vpa: str) -> None:
    with pytest.raises(ValidationError):
        validate_vpa(vpa)


@pytest.mark.parametrize(("method", "vpa", "number", "outcome"), [
    ("upi", "success@paystate", None, "success"),
    ("upi", "failure@paystate", None, "PAYMENT_FAILED"),
    ("upi", "Failure@PayState", None, "PAYMENT_FAILED"),  # VPAs are not case-sensitive
    ("upi", "shopper@okbank", None, "success"),
    ("card", None, "4111 1111 1111 1111", "success"),
    ("card", None, "4242-4242-4242-4242", "success"),
    ("card", None, "4000 0000 0000 0002", "CARD_DECLINED"),
    ("card", None, "4000000000000002", "CARD_DECLINED"),
    ("card", None, "4000 0000 0000 9995", "INSUFFICIENT_FUNDS"),
    ("card", None, "5555 5555 5555 4444", "success"),
])
def test_the_instrument_decides_a_test_payment(method: str, vpa: str | None, number: str | None,
                                               outcome: str) -> None:
    assert instrument_outcome(method, vpa=vpa, card_number=number) == outcome


def test_every_test_card_is_a_valid_card_and_every_test_vpa_a_valid_vpa() -> None:
    for instrument in TEST_INSTRUMENTS:
        if instrument.method == "card":
            validate_card(card(instrument.shown), TODAY)
        else:
            validate_vpa(instrument.shown)
        assert instrument.outcome == TEST_SUCCESS or instrument.outcome in TEST_DECLINES


@pytest.mark.parametrize(("code", "description"), [
    ("PAYMENT_FAILED", "Payment declined by bank"),
    ("CARD_DECLINED", "Card declined by the issuer"),
    ("INSUFFICIENT_FUNDS", "Insufficient funds"),
    ("SOME_LATER_CODE", "Payment declined by bank"),
])
def test_a_stored_test_outcome_settles_with_its_code_and_description(code: str,
                                                                     description: str) -> None:
    outcome = settled_as(code)
    assert not outcome.approved
    assert outcome.fail_args() == {"error_code": code, "error_description": description}
    assert settled_as(TEST_SUCCESS) == APPROVED
