"""The CSV exports' rows: which columns, and how a cell is written.

Receipts, refund reasons and VPAs are text a merchant's customers or integration chose; a
spreadsheet opening the file would run a cell starting with ``=``, ``+``, ``-`` or ``@`` (and,
in some, a tab or carriage return) as a formula. Such a text cell gets a leading apostrophe,
OWASP's advice, which spreadsheets show as text and do not print. Numbers are written as
numbers. Quoting is the ``csv`` module's (RFC 4180 with CRLF line ends).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """One cell: text guarded against formulas, times in UTC ISO 8601, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


#: The export's columns: (heading, how to read it from a row the engine's export yields).
Columns = list[tuple[str, Callable[[dict[str, Any]], Any]]]


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row.get(name)


PAYMENTS: Columns = [(name, _field(name)) for name in (
    "id", "order_id", "receipt", "amount", "currency", "method", "vpa", "card_network",
    "card_last4", "status", "captured", "amount_refunded", "error_code", "created_at")]
REFUNDS: Columns = [(name, _field(name)) for name in (
    "id", "payment_id", "order_id", "amount", "currency", "reason", "status", "created_at",
    "processed_at")]
COLUMNS = {"payments": PAYMENTS, "refunds": REFUNDS}


def lines(rows: Iterable[list[Any]]) -> str:
    """``rows`` (lists of raw values) as CSV text, each cell through ``cell``."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def heading(columns: Columns) -> str:
    return lines([[name for name, _ in columns]])


def body(columns: Columns, rows: Iterable[dict[str, Any]]) -> str:
    return lines([read(row) for _, read in columns] for row in rows)
