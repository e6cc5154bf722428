"""Payment instruments: VPA and card validation, card network detection. Pure functions.

``today`` is a parameter: card expiry is judged against the month the caller says it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .errors import ValidationError

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
        raise ValidationError("Invalid VPA format", code="INVALID_VPA")
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


def validate_card(card: object, today: date) -> CardSummary:
    """Check number (13-19 digits, Luhn), expiry and CVV; return only network and last 4."""
    if not isinstance(card, dict):
        raise ValidationError("card must be an object")
    number = card.get("number")
    if not isinstance(number, str):
        raise ValidationError("Invalid card number", code="INVALID_CARD")
    digits = number.replace(" ", "").replace("-", "")
    if not (13 <= len(digits) <= 19) or not digits.isascii() or not digits.isdigit():
        raise ValidationError("Invalid card number", code="INVALID_CARD")
    if not luhn_ok(digits):
        raise ValidationError("Invalid card number", code="INVALID_CARD")
    month = _as_int(card.get("expiry_month"))
    year = _as_int(card.get("expiry_year"))
    if month is None or year is None:
        raise ValidationError("Invalid card expiry", code="EXPIRED_CARD")
    if year < 100:
        year += 2000
    if not 1 <= month <= 12 or (year, month) < (today.year, today.month):
        raise ValidationError("Card expired or invalid expiry date", code="EXPIRED_CARD")
    cvv = card.get("cvv")
    if not isinstance(cvv, str) or not cvv.isascii() or not cvv.isdigit() or len(cvv) not in (3, 4):
        raise ValidationError("cvv must be 3 or 4 digits")
    holder = card.get("holder_name")
    if holder is not None and (not isinstance(holder, str) or len(holder) > 255):
        raise ValidationError("holder_name must be a string of at most 255 characters")
    return CardSummary(network=card_network(digits), last4=digits[-4:])
