"""Payment instruments: VPA and card validation, card network detection, and the outcome a
test-mode payment gets from its instrument. Pure functions.

``today`` is a parameter: card expiry is judged against the month the caller says it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .errors import ValidationError
from .payment import APPROVED, DECLINED_CODE, DECLINED_DESCRIPTION, Outcome

# The contract's pattern, anchored as JSON Schema (the OpenAPI document) needs it. Python's $
# also matches before a final newline, so it is always applied with fullmatch.
VPA_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$")


@dataclass(frozen=True)
class CardSummary:
    """What may be kept of a card: never the number or the CVV."""

    network: str
    last4: str


def validate_vpa(vpa: object) -> str:
    if not isinstance(vpa, str) or len(vpa) > 255 or not VPA_PATTERN.fullmatch(vpa):
        raise ValidationError("Invalid VPA format", code="INVALID_VPA", param="vpa")
    return vpa


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_digits(number: str) -> str:
    """A card number as it is checked: spaces and dashes removed."""
    return number.replace(" ", "").replace("-", "")


def card_network(digits: str) -> str:
    if digits.startswith("4"):
        return "visa"
    two = int(digits[:2])
    if 51 <= two <= 55:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if two in (60, 65) or 81 <= two <= 89:
        return "rupay"
    return "unknown"


def _as_int(value: object) -> int | None:
    # Accept integers and digit strings ("12", "2030"), never bools or floats.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
            and len(value.strip()) <= 4:
        return int(value.strip())
    return None


NUMBER = "card.number"


def validate_card(card: object, today: date) -> CardSummary:
    """Check number (13-19 digits, Luhn), expiry and CVV; return only network and last 4."""
    if not isinstance(card, dict):
        raise ValidationError("card must be an object", param="card")
    number = card.get("number")
    if not isinstance(number, str):
        raise ValidationError("Invalid card number", code="INVALID_CARD", param=NUMBER)
    digits = card_digits(number)
    if not (13 <= len(digits) <= 19) or not digits.isascii() or not digits.isdigit():
        raise ValidationError("Invalid card number", code="INVALID_CARD", param=NUMBER)
    if not luhn_ok(digits):
        raise ValidationError("Invalid card number", code="INVALID_CARD", param=NUMBER)
    month = _as_int(card.get("expiry_month"))
    year = _as_int(card.get("expiry_year"))
    if month is None or year is None:
        raise ValidationError("Invalid card expiry", code="EXPIRED_CARD",
                              param="card.expiry_month" if month is None else "card.expiry_year")
    if year < 100:
        year += 2000
    if not 1 <= month <= 12 or (year, month) < (today.year, today.month):
        raise ValidationError("Card expired or invalid expiry date", code="EXPIRED_CARD",
                              param="card.expiry_month" if not 1 <= month <= 12
                              else "card.expiry_year")
    cvv = card.get("cvv")
    if not isinstance(cvv, str) or not cvv.isascii() or not cvv.isdigit() or len(cvv) not in (3, 4):
        raise ValidationError("cvv must be 3 or 4 digits", param="card.cvv")
    holder = card.get("holder_name")
    if holder is not None and (not isinstance(holder, str) or len(holder) > 255):
        raise ValidationError("holder_name must be a string of at most 255 characters",
                              param="card.holder_name")
    return CardSummary(network=card_network(digits), last4=digits[-4:])


# -- test mode: the instrument decides, as in Stripe's and Razorpay's test modes -------------

#: What a test-mode payment keeps of its instrument's verdict (``payments.test_outcome``): this
#: for an approval, else the error code the failed payment will carry. Never anything else of
#: the card number.
TEST_SUCCESS = "success"
CARD_DECLINED = "CARD_DECLINED"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
#: The failures a test instrument can cause, with the description the payment carries.
TEST_DECLINES = {
    DECLINED_CODE: DECLINED_DESCRIPTION,
    CARD_DECLINED: "Card declined by the issuer",
    INSUFFICIENT_FUNDS: "Insufficient funds",
}


@dataclass(frozen=True)
class TestInstrument:
    """One instrument with a fixed test-mode outcome, as the docs and the checkout list it."""

    __test__ = False  # not a pytest class, whatever its name

    method: str
    shown: str  # as a shopper types it
    outcome: str  # TEST_SUCCESS or an error code of TEST_DECLINES

    @property
    def succeeds(self) -> bool:
        return self.outcome == TEST_SUCCESS

    @property
    def result(self) -> str:
        """What paying with it does, in words (the checkout's list)."""
        if self.succeeds:
            return "Succeeds"
        return f"Fails: {TEST_DECLINES[self.outcome]} ({self.outcome})"

    @property
    def key(self) -> str:
        """How it is looked up: a VPA in lower case, a card's digits."""
        return self.shown.lower() if self.method == "upi" else card_digits(self.shown)


TEST_INSTRUMENTS = (
    TestInstrument("upi", "success@paystate", TEST_SUCCESS),
    TestInstrument("upi", "failure@paystate", DECLINED_CODE),
    TestInstrument("card", "4111 1111 1111 1111", TEST_SUCCESS),
    TestInstrument("card", "4242 4242 4242 4242", TEST_SUCCESS),
    TestInstrument("card", "4000 0000 0000 0002", CARD_DECLINED),
    TestInstrument("card", "4000 0000 0000 9995", INSUFFICIENT_FUNDS),
)
_BY_KEY = {(i.method, i.key): i.outcome for i in TEST_INSTRUMENTS}


def instrument_outcome(method: str, vpa: str | None = None,
                       card_number: str | None = None) -> str:
    """The test-mode outcome of a valid instrument: ``TEST_SUCCESS`` or an error code of
    ``TEST_DECLINES``. Decided when the payment is created, the only time the card number is
    known; an instrument not in ``TEST_INSTRUMENTS`` succeeds."""
    if method == "upi" and vpa is not None:
        return _BY_KEY.get(("upi", vpa.lower()), TEST_SUCCESS)
    if method == "card" and card_number is not None:
        return _BY_KEY.get(("card", card_digits(card_number)), TEST_SUCCESS)
    return TEST_SUCCESS


def settled_as(test_outcome: str) -> Outcome:
    """How a payment whose stored test outcome is ``test_outcome`` settles. A code this version
    does not know (written by a newer one) still fails the payment, with the bank's words."""
    if test_outcome == TEST_SUCCESS:
        return APPROVED
    return Outcome(approved=False, error_code=test_outcome,
                   error_description=TEST_DECLINES.get(test_outcome, DECLINED_DESCRIPTION))
