"""The dashboard's lists: filters (mode, status, a creation-date window, the search box) as SQL,
and exports read in keyset pages.

Everything is scoped by ``merchant_id`` and ``livemode`` first, so each filter reads the index
that leads with them (migrations 012 and 017). The search box matches, each through an index
of its own (migration 017), and answers the union:

- a payment id prefix (``pay_BsuZ3Vko``): ``id LIKE 'pay\\_BsuZ3Vko%'`` on ``text_pattern_ops``;
- an order id, exactly (the payments of that order);
- an order's receipt, exactly (``rcpt_fail_1``);
- a VPA, or the ``email`` of an order's notes, without regard to case (text with an ``@``);
  payments store no email of their own;
- a card's last four digits (four digits).

SQL text here is built from constants only; what a visitor typed travels as parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import PooledConnection, ReadPool, run_pooled

#: Rows per page of an export: a few hundred kB of CSV, one short query each.
EXPORT_PAGE = 500


@dataclass(frozen=True)
class Window:
    """Created at or after ``start`` and before ``end`` (either may be open)."""

    start: datetime | None = None
    end: datetime | None = None


#: No bounds: every row.
ANY_TIME = Window()


def like_prefix(text: str) -> str:
    """A LIKE pattern matching strings that start with ``text`` (its wildcards escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def scoped(alias: str, merchant_id: str, livemode: bool, window: Window = ANY_TIME,
           status: str | None = None) -> tuple[list[str], list[Any]]:
    """The conditions every list starts with, on the table called ``alias``."""
    where = [f"{alias}.merchant_id = %s", f"{alias}.livemode = %s"]
    params: list[Any] = [merchant_id, livemode]
    if status:
        where.append(f"{alias}.status = %s")
        params.append(status)
    if window.start is not None:
        where.append(f"{alias}.created_at >= %s")
        params.append(window.start)
    if window.end is not None:
        where.append(f"{alias}.created_at < %s")
        params.append(window.end)
    return where, params


def search_matches(merchant_id: str, livemode: bool, text: str) -> tuple[str, list[Any]]:
    """``SELECT id ...``: the ids of the merchant's payments (of this mode) that ``text``
    finds, a union of indexed lookups (see the module's docstring)."""
    mine = "merchant_id = %s AND livemode = %s"
    parts = [f"SELECT id FROM payments WHERE {mine} AND id LIKE %s",
             f"SELECT id FROM payments WHERE order_id = %s AND {mine}",
             ("SELECT p.id FROM orders o JOIN payments p ON p.order_id = o.id"
              " WHERE o.merchant_id = %s AND o.livemode = %s AND o.receipt = %s")]
    params: list[Any] = [merchant_id, livemode, like_prefix(text), text, merchant_id, livemode,
                         merchant_id, livemode, text]
    if "@" in text:
        parts.append(f"SELECT id FROM payments WHERE {mine} AND lower(vpa) = lower(%s)")
        parts.append("SELECT p.id FROM orders o JOIN payments p ON p.order_id = o.id"
                     " WHERE o.merchant_id = %s AND o.livemode = %s AND o.notes ? 'email'"
                     " AND lower(o.notes->>'email') = lower(%s)")
        params += [merchant_id, livemode, text, merchant_id, livemode, text]
    if len(text) == 4 and text.isdigit():
        parts.append(f"SELECT id FROM payments WHERE {mine} AND card_last4 = %s")
        params += [merchant_id, livemode, text]
    return " UNION ".join(parts), params


def payment_filter(merchant_id: str, livemode: bool, *, status: str | None,
                   search: str | None, window: Window) -> tuple[str, tuple[Any, ...]]:
    """``WHERE`` text (table ``payments``, unaliased) and its parameters."""
    where, params = scoped("payments", merchant_id, livemode, window, status)
    if search:
        matches, more = search_matches(merchant_id, livemode, search)
        where.append(f"payments.id IN ({matches})")
        params += more
    return " AND ".join(where), tuple(params)


#: What an export reads per row, by table: the payment's order's receipt and the refund's
#: payment's currency come along, so a row of CSV is one row read.
EXPORTS = {
    "payments": ("SELECT p.*, o.receipt FROM payments p JOIN orders o ON o.id = p.order_id", "p"),
    "refunds": ("SELECT r.*, p.currency FROM refunds r JOIN payments p ON p.id = r.payment_id",
                "r"),
}


async def export_pages(pool: ReadPool, table: str, merchant_id: str, livemode: bool,
                       window: Window, page: int = EXPORT_PAGE,
                       ) -> AsyncIterator[list[dict[str, Any]]]:
    """The merchant's rows of ``table`` ("payments" or "refunds") in ``window``, newest
    first, a page at a time. Keyset pages (``(created_at, id) <`` the last row's), each its
    own short query on a pooled connection: a long export holds no connection or snapshot
    between pages, and a row written meanwhile lands before the cursor or is read once."""
    select, alias = EXPORTS[table]
    where, params = scoped(alias, merchant_id, livemode, window)
    after: tuple[datetime, str] | None = None
    while True:
        keyset = where + ([f"({alias}.created_at, {alias}.id) < (%s, %s)"] if after else [])
        sql = (f"{select} WHERE {' AND '.join(keyset)}"
               f" ORDER BY {alias}.created_at DESC, {alias}.id DESC LIMIT %s")
        args = (*params, *(after or ()), page)

        async def read(conn: PooledConnection, sql: str = sql,
                       args: tuple[Any, ...] = args) -> list[dict[str, Any]]:
            return await (await conn.execute(sql, args)).fetchall()
        rows = await run_pooled(pool, read)
        if rows:
            yield rows
        if len(rows) < page:
            return
        after = (rows[-1]["created_at"], rows[-1]["id"])
