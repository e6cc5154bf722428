"""Field checks for JSON bodies: exact types, no coercion (an amount of "100", 100.0 or true is
refused), bounded sizes, no unknown fields (``known``). Every front (the native API, the
Razorpay dialect) calls these: a rule of the API lives here once. Each refusal names the field
at fault as its ``param``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ..engine.bridge import NewPayment
from ..machines.instruments import instrument_outcome, validate_card, validate_vpa
from .errors import bad_request

MAX_AMOUNT = 10**11  # 100 crore rupees in paise: larger is an absurd value, not a payment
MAX_TEXT = 255
CURRENCIES = ("INR",)
MAX_NOTES = 15
MAX_NOTE_KEY = 64
MAX_NOTE_TEXT = 256
# Integers a JSON reader in any language holds exactly (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_SAFE_INTEGER = 2**53 - 1


def known(body: dict[str, Any], fields: Iterable[str], within: str | None = None
          ) -> dict[str, Any]:
    """``body`` if it holds only ``fields``; else a 400 naming the first unknown field (as
    ``param``, ``within.name`` for a nested object) and the known one it most resembles. A
    misspelt optional field would otherwise be dropped without a word ("reciept": an order
    without its receipt)."""
    fields = tuple(fields)
    for name in body:
        if name not in fields:
            where = f"{within}.{name}" if within else name
            close = difflib.get_close_matches(name, fields, n=1)
            hint = (f"did you mean {(f'{within}.{close[0]}' if within else close[0])!r}?"
                    if close
                    else f"this call takes: {', '.join(fields)}")
            raise bad_request(f"Unknown field {where!r}; {hint}", where)
    return body


def integer(body: dict[str, Any], name: str, *, required: bool = True, minimum: int = 1,
            minimum_message: str | None = None) -> int | None:
    if name not in body or body[name] is None:
        if required:
            raise bad_request(f"{name} is required", name)
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer", name)
    if value < minimum:
        raise bad_request(minimum_message or f"{name} must be at least {minimum}", name)
    if value > MAX_AMOUNT:
        raise bad_request(f"{name} must be at most {MAX_AMOUNT}", name)
    return value


def text(body: dict[str, Any], name: str, *, required: bool = False,
         max_length: int = MAX_TEXT) -> str | None:
    if name not in body or body[name] is None:
        if required:
            raise bad_request(f"{name} is required", name)
        return None
    value = body[name]
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string", name)
    if required and not value.strip():
        raise bad_request(f"{name} is required", name)
    if len(value) > max_length:
        raise bad_request(f"{name} must be at most {max_length} characters", name)
    return value


def currency(body: dict[str, Any]) -> str:
    """INR when absent or null; an empty or other string is refused, not defaulted."""
    value = text(body, "currency")
    if value is None:
        return "INR"
    if value not in CURRENCIES:
        raise bad_request("currency must be INR", "currency")
    return value


def notes(body: dict[str, Any]) -> dict[str, Any]:
    """At most 15 keys of at most 64 characters; values are strings of at most 256
    characters, booleans, or integers a JSON reader holds exactly. No floats: PostgreSQL's
    jsonb keeps numbers as decimals, so 1e308 would come back as a 309-digit integer."""
    value = body.get("notes")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request("notes must be an object", "notes")
    if len(value) > MAX_NOTES:
        raise bad_request(f"notes may hold at most {MAX_NOTES} keys", "notes")
    for key, item in value.items():
        if not key or len(key) > MAX_NOTE_KEY:
            raise bad_request(f"notes keys must be 1 to {MAX_NOTE_KEY} characters", "notes")
        if isinstance(item, str):
            if len(item) > MAX_NOTE_TEXT:
                raise bad_request(f"notes values must be at most {MAX_NOTE_TEXT} characters",
                                  f"notes.{key}")
        elif isinstance(item, int) and not isinstance(item, bool):
            if abs(item) > MAX_SAFE_INTEGER:
                raise bad_request(f"notes numbers must be integers within ±{MAX_SAFE_INTEGER}",
                                  f"notes.{key}")
        elif not isinstance(item, bool):
            raise bad_request("notes values must be strings, integers or booleans",
                              f"notes.{key}")
    return value


# The fields each creating body takes. A payment also takes the seed clients' ``amount``
# (it must equal the order's) and ``currency`` (it must be INR, as every order is).
ORDER_FIELDS = ("amount", "currency", "receipt", "notes")
PAYMENT_FIELDS = ("order_id", "method", "vpa", "card", "amount", "currency")
CARD_FIELDS = ("number", "expiry_month", "expiry_year", "cvv", "holder_name")
REFUND_FIELDS = ("amount", "reason")


@dataclass(frozen=True)
class NewOrder:
    amount: int
    currency: str
    receipt: str | None
    notes: dict[str, Any]


def new_order(body: dict[str, Any]) -> NewOrder:
    """The fields of an order to create: amount >= 100 paise, currency, receipt, notes."""
    amount = integer(body, "amount", minimum=100, minimum_message="amount must be at least 100")
    assert amount is not None
    return NewOrder(amount, currency(body), text(body, "receipt", max_length=40), notes(body))


def refund_amount(body: dict[str, Any], *, required: bool = True) -> int | None:
    """A refund's amount: a positive integer of paise (None if absent and not required)."""
    return integer(body, "amount", required=required, minimum=1,
                   minimum_message="amount must be a positive integer")


def instrument(method: object, vpa: object, card: object, today: date) -> NewPayment:
    """What may be kept of a payment's instrument: the VPA of a UPI payment, the network and
    last four digits of a card (checked against ``today`` for expiry), and the outcome the
    instrument decides if the payment is processed in test mode."""
    if method == "upi":
        checked = validate_vpa(vpa)
        return NewPayment(method="upi", vpa=checked,
                          test_outcome=instrument_outcome("upi", vpa=checked))
    if method == "card":
        summary = validate_card(card, today)
        assert isinstance(card, dict)  # validate_card refuses anything else
        # Decided here, while the number is known: only this verdict goes on.
        return NewPayment(method="card", card_network=summary.network,
                          card_last4=summary.last4,
                          test_outcome=instrument_outcome("card", card_number=card["number"]))
    raise bad_request("method must be one of: upi, card", "method")


def query_int(raw: str | None, name: str, default: int, maximum: int) -> int:
    """A non-negative integer query parameter (ASCII digits only, at most ``maximum``)."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) > maximum:
        raise bad_request(f"{name} must be an integer between 0 and {maximum}", name)
    return int(raw)


def query_instant(raw: str | None, name: str, *, naive_utc: bool = False) -> datetime | None:
    """An ISO 8601 time query parameter (``2026-12-01T10:00:00Z``, ``...+05:30``), in UTC;
    None when absent or empty. Without an offset: refused, or read as UTC with
    ``naive_utc`` (a browser's datetime-local control sends none).

    The instant names its whole millisecond, the precision the API shows times in: the last
    microsecond of it is returned, so that a time read from an answer (a transition's ``at``,
    an ``updated_at``) includes what happened then."""
    if raw is None or raw == "":
        return None
    example = f"{name} must be an ISO 8601 time with its offset, e.g. 2026-12-01T10:00:00Z"
    if not raw.isascii() or len(raw) > 40:
        raise bad_request(example)
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(example) from None
    if at.tzinfo is None:
        if not naive_utc:
            raise bad_request(example)
        at = at.replace(tzinfo=UTC)
    try:
        at = at.astimezone(UTC)
    except OverflowError:  # a year-1 time east of UTC, or year 9999 west of it
        raise bad_request(example) from None
    return at.replace(microsecond=at.microsecond // 1000 * 1000 + 999)


def page(query_limit: str | None, query_offset: str | None, default: int,
         maximum: int) -> tuple[int, int]:
    def parse(raw: str | None, name: str, fallback: int) -> int:
        if raw is None or raw == "":
            return fallback
        # ASCII digits only: str.isdigit() and int() also take "５" and "²".
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise bad_request(f"{name} must be a non-negative integer", name)
        return int(raw)
    limit = parse(query_limit, "limit", default)
    offset = parse(query_offset, "offset", 0)
    if limit < 1 or limit > maximum:
        raise bad_request(f"limit must be between 1 and {maximum}", "limit")
    if offset > 10**9:
        raise bad_request("offset is too large", "offset")
    return limit, offset
