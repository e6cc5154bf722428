"""VPA and card validation, card networks: pure functions."""

from __future__ import annotations

from datetime import date

import pytest

from paystate.machines.errors import ValidationError
from paystate.machines.instruments import card_network, luhn_ok, validate_card, validate_vpa

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
