"""What the dashboard's list filters and forms read from a visitor's text: a date range and an
amount in rupees. Pure functions; a value that does not parse is refused or left out, never
guessed at."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..engine.dashboard_bridge import Window
from ..machines.errors import ValidationError

#: Rupees and at most two decimals of paise; twelve digits is more than any order holds.
AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class DateRange:
    """The ``from`` and ``to`` dates a list shows (UTC days, both included), as typed back
    into the form ("" where none or unreadable), and the ``Window`` they make."""

    start: str
    end: str
    window: Window

    def query(self) -> dict[str, str]:
        """The range as query arguments, for links that keep it (pages, the CSV export)."""
        return {k: v for k, v in (("from", self.start), ("to", self.end)) if v}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        return None


def date_range(start_text: str, end_text: str) -> DateRange:
    """The range from an ``<input type=date>`` pair (YYYY-MM-DD). Days are UTC days, as every
    time on the dashboard is shown in UTC; ``to`` includes its whole day. An unreadable date
    is dropped, so the list shows what the rest of the filter asks."""
    start, end = _day(start_text), _day(end_text)
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC) if start else None
    stop = (datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
            if end else None)
    return DateRange(start.isoformat() if start else "", end.isoformat() if end else "",
                     Window(begin, stop))


def paise(text: str) -> int:
    """An amount typed in rupees ("1250", "12.50", "1,250") as an integer of paise;
    ``ValidationError`` for anything else (a third decimal, a sign, an exponent, a word).
    Digits only, never float: 0.29 rupees is 29 paise exactly."""
    cleaned = text.strip().replace(",", "")
    if not AMOUNT.fullmatch(cleaned) or not cleaned.strip("0."):
        raise ValidationError("Enter an amount in rupees, like 250 or 12.50")
    rupees, _, fraction = cleaned.partition(".")
    return int(rupees) * 100 + int(fraction.ljust(2, "0"))
