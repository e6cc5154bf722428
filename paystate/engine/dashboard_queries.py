"""Read-only queries behind the operator dashboard, on the async pool (never an actor).

Every query is scoped to one merchant: a dashboard session sees its own merchant's objects and
nothing else. Each public coroutine is one round trip to PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from ..machines.models import Order, Payment, Refund
from .dashboard_lists import ANY_TIME, Window, export_pages, payment_filter, scoped
from .db import counted_page
from .ids import uuid_text
from .merchants import KEY_OF_MODE, MERCHANT_BY_EMAIL
from .queries import Queries
from .records import order_from_row, payment_from_row, refund_from_row
from .webhooks.deliveries import ATTEMPTS_OF_MANY, LIST_COLUMNS, LIST_ORDER

#: The machines the state views show, with the table that holds their objects.
MACHINE_TABLES = {"payment": "payments", "refund": "refunds", "webhook_delivery": "webhook_logs"}


class DashboardQueries(Queries):
    """The front's read queries plus the dashboard's own."""

    async def merchant_by_email(self, email: str) -> dict[str, Any] | None:
        return await self._one(MERCHANT_BY_EMAIL, (email,))

    async def key_of_mode(self, merchant_id: str, mode: str) -> dict[str, Any] | None:
        """The merchant's key row of ``mode`` (no secret shown: only hashes are stored)."""
        return await self._one(KEY_OF_MODE, (merchant_id, mode))

    async def merchant(self, merchant_id: str) -> dict[str, Any] | None:
        mid = uuid_text(merchant_id)
        return None if mid is None else await self.merchant_by_id(mid)

    async def payment_stats(self, merchant_id: str, livemode: bool) -> dict[str, int]:
        """Counts by outcome and the money that succeeded (paise)."""
        row = await self._one(
            "SELECT count(*) AS total,"
            " count(*) FILTER (WHERE status = 'success') AS succeeded,"
            " count(*) FILTER (WHERE status = 'failed') AS failed,"
            " count(*) FILTER (WHERE status = 'pending') AS pending,"
            " coalesce(sum(amount) FILTER (WHERE status = 'success'), 0) AS amount,"
            " coalesce(sum(amount_refunded), 0) AS refunded"
            " FROM payments WHERE merchant_id = %s AND livemode = %s", (merchant_id, livemode))
        return {k: int(v) for k, v in (row or {}).items()}

    async def payments_per_minute(self, merchant_id: str, livemode: bool,
                                  since: datetime) -> list[dict[str, Any]]:
        """``{minute, status, n}`` for payments created since ``since`` (status as of now)."""
        return await self._all(
            "SELECT date_trunc('minute', created_at) AS minute, status, count(*) AS n"
            " FROM payments WHERE merchant_id = %s AND livemode = %s AND created_at >= %s"
            " GROUP BY 1, 2 ORDER BY 1", (merchant_id, livemode, since))

    async def search_payments(self, merchant_id: str, livemode: bool, *, status: str | None,
                              search: str | None, limit: int, offset: int,
                              window: Window = ANY_TIME) -> tuple[list[Payment], int]:
        """A page of payments, newest first, and how many match: of ``status``, created in
        ``window``, found by ``search`` (``dashboard_lists.search_matches``)."""
        where, params = payment_filter(merchant_id, livemode, status=status, search=search,
                                       window=window)
        rows, total = await counted_page(self._pool, "payments", where, params, limit, offset)
        return [payment_from_row(r) for r in rows], total

    async def refunds_list(self, merchant_id: str, livemode: bool, *, limit: int, offset: int,
                           window: Window = ANY_TIME) -> tuple[list[Refund], int]:
        """A page of refunds, newest first, created in ``window``, and how many there are."""
        where, params = scoped("refunds", merchant_id, livemode, window)
        rows, total = await counted_page(self._pool, "refunds", " AND ".join(where),
                                         tuple(params), limit, offset)
        return [refund_from_row(r) for r in rows], total

    async def orders_list(self, merchant_id: str, livemode: bool, *, limit: int,
                          offset: int) -> tuple[list[Order], int]:
        """A page of orders, newest first, and how many there are."""
        where, params = scoped("orders", merchant_id, livemode)
        rows, total = await counted_page(self._pool, "orders", " AND ".join(where),
                                         tuple(params), limit, offset)
        return [order_from_row(r) for r in rows], total

    async def deliveries(self, merchant_id: str, livemode: bool, *, states: tuple[str, ...],
                         limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of webhook deliveries in one of ``states`` (all if empty), newest first,
        with their payloads (the page links each to its object), and how many match."""
        where, params = scoped("webhook_logs", merchant_id, livemode)
        if states:
            where.append("webhook_logs.status = ANY(%s)")
            params.append(list(states))
        return await counted_page(self._pool, "webhook_logs", " AND ".join(where),
                                  tuple(params), limit, offset,
                                  columns=LIST_COLUMNS + ", payload", order=LIST_ORDER)

    def export(self, table: str, merchant_id: str, livemode: bool,
               window: Window) -> AsyncIterator[list[dict[str, Any]]]:
        """``dashboard_lists.export_pages`` on this pool."""
        return export_pages(self._pool, table, merchant_id, livemode, window)

    async def attempts_of(self, delivery_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Every attempt of these deliveries, oldest first, by delivery id."""
        if not delivery_ids:
            return {}
        rows = await self._all(ATTEMPTS_OF_MANY, (delivery_ids,))
        out: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            out.setdefault(str(row["delivery_id"]), []).append(row)
        return out

    async def state_counts(self, merchant_id: str,
                           livemode: bool) -> dict[str, dict[str, int]]:
        """How many of the merchant's objects sit in each state, per machine."""
        rows = await self._all(
            "SELECT 'payment' AS machine, status, count(*) AS n FROM payments"
            " WHERE merchant_id = %s AND livemode = %s GROUP BY status"
            " UNION ALL SELECT 'refund', status, count(*) FROM refunds"
            " WHERE merchant_id = %s AND livemode = %s GROUP BY status"
            " UNION ALL SELECT 'webhook_delivery', status, count(*) FROM webhook_logs"
            " WHERE merchant_id = %s AND livemode = %s GROUP BY status",
            (merchant_id, livemode) * 3)
        out: dict[str, dict[str, int]] = {name: {} for name in MACHINE_TABLES}
        for row in rows:
            out[row["machine"]][row["status"]] = int(row["n"])
        return out

    async def object_row(self, machine: str, object_id: str) -> dict[str, Any] | None:
        """The row of one payment, refund or delivery (any merchant's; the caller checks)."""
        table = MACHINE_TABLES[machine]
        if machine == "webhook_delivery":
            oid = uuid_text(object_id)
            if oid is None:
                return None
            object_id = oid
        return await self._one(f"SELECT * FROM {table} WHERE id = %s", (object_id,))
