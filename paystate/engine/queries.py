"""Read-only queries for the fronts, on the async pool: they never wait on an actor.

Every query goes through ``run_pooled``: one that meets a connection a PostgreSQL restart
killed runs again on a fresh one instead of failing the request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..machines.history import Step
from ..machines.models import Order, Payment, Refund
from .db import PooledConnection, ReadPool, counted_page, run_pooled
from .history import counts_as_of, steps_of
from .merchants import MERCHANT_BY_ID, MERCHANT_BY_KEY
from .records import BY_ID, order_from_row, payment_from_row, refund_from_row


class Queries:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def _one(self, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        async def one(conn: PooledConnection) -> dict[str, Any] | None:
            return await (await conn.execute(sql, params)).fetchone()
        return await run_pooled(self._pool, one)

    async def _all(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        async def all_rows(conn: PooledConnection) -> list[dict[str, Any]]:
            return await (await conn.execute(sql, params)).fetchall()
        return await run_pooled(self._pool, all_rows)

    async def merchant_by_key(self, api_key: str) -> dict[str, Any] | None:
        return await self._one(MERCHANT_BY_KEY, (api_key,))

    async def merchant_by_id(self, merchant_id: str) -> dict[str, Any] | None:
        return await self._one(MERCHANT_BY_ID, (merchant_id,))

    async def checkout_origins(self, order_id: str) -> list[str] | None:
        """The origins the order's merchant lets embed its checkout; None: no such order."""
        row = await self._one("SELECT m.checkout_origins FROM orders o"
                              " JOIN merchants m ON m.id = o.merchant_id WHERE o.id = %s",
                              (order_id,))
        return None if row is None else list(row["checkout_origins"])

    async def merchant_brand(self, merchant_id: str) -> dict[str, Any] | None:
        """What a shopper is shown of a merchant: ``{name, logo_url}``; None: no such one."""
        return await self._one("SELECT name, logo_url FROM merchants WHERE id = %s",
                               (merchant_id,))

    async def suspended_order(self, order_id: str) -> bool:
        """Whether the order's merchant is suspended (False for no such order)."""
        row = await self._one("SELECT m.status FROM orders o"
                              " JOIN merchants m ON m.id = o.merchant_id WHERE o.id = %s",
                              (order_id,))
        return row is not None and row["status"] == "suspended"

    async def order(self, order_id: str) -> Order | None:
        row = await self._one(BY_ID["order"], (order_id,))
        return order_from_row(row) if row else None

    async def payment(self, payment_id: str) -> Payment | None:
        row = await self._one(BY_ID["payment"], (payment_id,))
        return payment_from_row(row) if row else None

    async def refund(self, refund_id: str) -> Refund | None:
        row = await self._one(BY_ID["refund"], (refund_id,))
        return refund_from_row(row) if row else None

    async def refunds_of_payment(self, payment_id: str) -> list[Refund]:
        rows = await self._all("SELECT * FROM refunds WHERE payment_id = %s"
                               " ORDER BY created_at, id", (payment_id,))
        return [refund_from_row(r) for r in rows]

    async def payments(self, merchant_id: str, livemode: bool, limit: int, offset: int,
                       status: str | None) -> tuple[list[Payment], int]:
        where = "merchant_id = %s AND livemode = %s" + (" AND status = %s" if status else "")
        params: tuple[Any, ...] = (merchant_id, livemode) + ((status,) if status else ())

        rows, total = await counted_page(self._pool, "payments", where, params, limit, offset)
        return [payment_from_row(r) for r in rows], total

    async def transitions(self, entity_id: str) -> list[dict[str, Any]]:
        """The entity's transition rows, oldest first: seq, from_state, to_state, trigger,
        data, at. Without a webhook attempt's ``worker`` (the gateway's host and pid), which is
        the operators' to know, not the merchant's (the API and the dashboard read these)."""
        return await self._all("SELECT seq, from_state, to_state, trigger,"
                               " data - 'worker' AS data, at FROM transitions"
                               " WHERE entity_id = %s ORDER BY seq", (entity_id,))

    async def steps(self, entity_id: str) -> list[Step]:
        """The entity's transitions as the time-travel rebuild reads them, oldest first."""
        return await steps_of(self._pool, entity_id)

    async def counts_as_of(self, at: datetime, merchant_id: str | None = None,
                           livemode: bool | None = None) -> dict[str, dict[str, int]]:
        """Objects per machine and state at ``at`` (``engine/history.counts_as_of``)."""
        return await counts_as_of(self._pool, at, merchant_id, livemode)

    async def ping(self) -> None:
        await self._one("SELECT 1 AS ok", ())

    # -- pages by creation time (any front's lists) -----------------------------------

    async def _page(self, table: str, where: str, params: tuple[Any, ...], limit: int,
                    offset: int, created_from: datetime | None,
                    created_to: datetime | None) -> list[dict[str, Any]]:
        """Rows of ``table`` matching ``where``, created within [from, to] when given, newest
        first. ``table`` and ``where`` are the caller's constants, never client text."""
        if created_from is not None:
            where += " AND created_at >= %s"
            params += (created_from,)
        if created_to is not None:
            where += " AND created_at <= %s"
            params += (created_to,)
        return await self._all(f"SELECT * FROM {table} WHERE {where}"
                               " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
                               (*params, limit, offset))

    async def orders_page(self, merchant_id: str, livemode: bool, limit: int, offset: int,
                          created_from: datetime | None = None,
                          created_to: datetime | None = None,
                          receipt: str | None = None) -> list[Order]:
        where = "merchant_id = %s AND livemode = %s"
        params: tuple[Any, ...] = (merchant_id, livemode)
        if receipt is not None:
            where, params = where + " AND receipt = %s", (*params, receipt)
        rows = await self._page("orders", where, params, limit, offset, created_from, created_to)
        return [order_from_row(r) for r in rows]

    async def payments_page(self, merchant_id: str, livemode: bool, limit: int, offset: int,
                            created_from: datetime | None = None,
                            created_to: datetime | None = None) -> list[Payment]:
        rows = await self._page("payments", "merchant_id = %s AND livemode = %s",
                                (merchant_id, livemode), limit, offset, created_from, created_to)
        return [payment_from_row(r) for r in rows]

    async def refunds_page(self, merchant_id: str, livemode: bool, limit: int, offset: int,
                           created_from: datetime | None = None,
                           created_to: datetime | None = None) -> list[Refund]:
        rows = await self._page("refunds", "merchant_id = %s AND livemode = %s",
                                (merchant_id, livemode), limit, offset, created_from, created_to)
        return [refund_from_row(r) for r in rows]

    async def payments_of_order(self, order_id: str) -> list[Payment]:
        rows = await self._all("SELECT * FROM payments WHERE order_id = %s"
                               " ORDER BY created_at DESC, id DESC", (order_id,))
        return [payment_from_row(r) for r in rows]

    async def payment_counts(self, order_ids: list[str]) -> dict[str, int]:
        """How many payments each order has had (its attempts), for orders that have any."""
        rows = await self._all("SELECT order_id, count(*) AS n FROM payments"
                               " WHERE order_id = ANY(%s) GROUP BY order_id", (order_ids,))
        return {r["order_id"]: int(r["n"]) for r in rows}
