"""Read-only queries for the fronts, on the async pool: they never wait on an actor."""

from __future__ import annotations

from typing import Any

from ..machines.models import Order, Payment, Refund
from .db import ReadPool
from .records import order_from_row, payment_from_row, refund_from_row, transition_json


class Queries:
    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def _one(self, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

    async def _all(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    async def merchant_by_key(self, api_key: str) -> dict[str, Any] | None:
        return await self._one("SELECT * FROM merchants WHERE api_key = %s", (api_key,))

    async def merchant_by_id(self, merchant_id: str) -> dict[str, Any] | None:
        return await self._one("SELECT * FROM merchants WHERE id = %s", (merchant_id,))

    async def order(self, order_id: str) -> Order | None:
        row = await self._one("SELECT * FROM orders WHERE id = %s", (order_id,))
        return order_from_row(row) if row else None

    async def payment(self, payment_id: str) -> Payment | None:
        row = await self._one("SELECT * FROM payments WHERE id = %s", (payment_id,))
        return payment_from_row(row) if row else None

    async def refund(self, refund_id: str) -> Refund | None:
        row = await self._one("SELECT * FROM refunds WHERE id = %s", (refund_id,))
        return refund_from_row(row) if row else None

    async def refunds_of_payment(self, payment_id: str) -> list[Refund]:
        rows = await self._all("SELECT * FROM refunds WHERE payment_id = %s"
                               " ORDER BY created_at, id", (payment_id,))
        return [refund_from_row(r) for r in rows]

    async def payments(self, merchant_id: str, limit: int, offset: int,
                       status: str | None) -> tuple[list[Payment], int]:
        where = "merchant_id = %s" + (" AND status = %s" if status else "")
        params: tuple[Any, ...] = (merchant_id, status) if status else (merchant_id,)
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) AS n FROM payments WHERE {where}", params)
            total_row = await cur.fetchone()
            cur = await conn.execute(
                f"SELECT * FROM payments WHERE {where} ORDER BY created_at DESC, id DESC"
                " LIMIT %s OFFSET %s", (*params, limit, offset))
            rows = await cur.fetchall()
        return [payment_from_row(r) for r in rows], int(total_row["n"] if total_row else 0)

    async def transitions(self, entity_id: str) -> list[dict[str, Any]]:
        rows = await self._all("SELECT from_state, to_state, trigger, data, at FROM transitions"
                               " WHERE entity_id = %s ORDER BY seq", (entity_id,))
        return [transition_json(r) for r in rows]

    async def ping(self) -> None:
        await self._one("SELECT 1 AS ok", ())
