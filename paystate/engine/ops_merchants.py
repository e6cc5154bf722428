"""The operator console's reads about merchants, across both modes: the searchable list with
each merchant's last 24 hours (payment volume, webhook success rate), and one merchant's page
(profile, endpoints, its latest payments, refunds and deliveries).

Coroutines on the front's event loop over the async pool. The list is one query of at most
``LIST_LIMIT`` merchants; each one's 24 hours are range scans of its own
``(merchant_id, livemode, created_at)`` indexes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .clock import Clock
from .db import PooledConnection, ReadPool, run_pooled
from .errors import NotFound
from .ids import uuid_text

LIST_LIMIT = 50
RECENT = 10
DAY = timedelta(hours=24)

# ``%(q)s`` matches a name or email anywhere, or the start of an id.
_SEARCH = (
    "SELECT m.id, m.name, m.email, m.status, m.created_at, p.volume, p.payments, w.finished,"
    " w.succeeded FROM merchants m"
    " LEFT JOIN LATERAL (SELECT coalesce(sum(amount) FILTER (WHERE status = 'success'), 0)"
    "   AS volume, count(*) AS payments FROM payments WHERE merchant_id = m.id"
    "   AND livemode = ANY('{false,true}') AND created_at > %(since)s) p ON true"
    " LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed'))"
    "   AS finished, count(*) FILTER (WHERE status = 'succeeded') AS succeeded"
    "   FROM webhook_logs WHERE merchant_id = m.id AND livemode = ANY('{false,true}')"
    "   AND created_at > %(since)s) w ON true"
    " WHERE (%(q)s = '' OR m.name ILIKE %(like)s OR m.email ILIKE %(like)s"
    "        OR m.id::text LIKE %(prefix)s)"
    "   AND (%(status)s = '' OR m.status = %(status)s)"
    " ORDER BY m.created_at DESC, m.id LIMIT %(limit)s")
_ENDPOINTS = (
    "SELECT id, livemode, url, status, disabled_reason, is_default, format, created_at"
    " FROM webhook_endpoints WHERE merchant_id = %s AND deleted_at IS NULL"
    " ORDER BY livemode, created_at")


def _both_modes(select: str) -> str:
    """The newest rows of a merchant in either mode: one scan of the merchant-and-mode index
    per mode (migration 012), merged; there is no index by merchant alone (migration 018)."""
    one = f"({select} WHERE merchant_id = %(merchant)s AND livemode = {{}}" \
          " ORDER BY created_at DESC LIMIT %(limit)s)"
    return (f"{one.format('false')} UNION ALL {one.format('true')}"
            " ORDER BY created_at DESC LIMIT %(limit)s")


_RECENT = {
    "payments": _both_modes("SELECT id, livemode, amount, currency, method, status, created_at"
                            " FROM payments"),
    "refunds": _both_modes("SELECT id, payment_id, livemode, amount, status, created_at"
                           " FROM refunds"),
    "deliveries": _both_modes("SELECT id, endpoint_id, livemode, event, status, attempts,"
                              " response_code, next_retry_at, created_at FROM webhook_logs"),
}

def _rate(succeeded: int | None, finished: int | None) -> float | None:
    return round(100.0 * (succeeded or 0) / finished, 1) if finished else None


class OpsMerchants:
    def __init__(self, pool: ReadPool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    async def search(self, query: str = "", status: str = "") -> list[dict[str, Any]]:
        """Merchants whose name or email contains ``query``, or whose id starts with it
        (all when empty), of ``status`` when given; newest first, at most ``LIST_LIMIT``."""
        query = query.strip()[:100]
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params = {"since": self._clock.now() - DAY, "q": query, "like": f"%{escaped}%",
                  "prefix": f"{escaped.lower()}%", "status": status, "limit": LIST_LIMIT}

        async def read(conn: PooledConnection) -> list[dict[str, Any]]:
            return await (await conn.execute(_SEARCH, params)).fetchall()
        return [{"id": str(r["id"]), "name": r["name"], "email": r["email"],
                 "status": r["status"], "created_at": r["created_at"],
                 "volume_24h": int(r["volume"] or 0), "payments_24h": int(r["payments"] or 0),
                 "webhook_success_rate_24h": _rate(r["succeeded"], r["finished"])}
                for r in await run_pooled(self._pool, read)]

    async def detail(self, merchant_id: str) -> dict[str, Any]:
        """``{merchant, endpoints, payments, refunds, deliveries}``; ``NotFound``. The
        endpoints' health is the webhook bridge's (``OpsBridge.merchant`` adds it)."""
        mid = uuid_text(merchant_id)
        if mid is None:
            raise NotFound("Merchant")

        async def read(conn: PooledConnection) -> dict[str, Any]:
            cur = await conn.execute("SELECT id, name, email, status, created_at, updated_at"
                                     " FROM merchants WHERE id = %s", (mid,))
            merchant = await cur.fetchone()
            if merchant is None:
                raise NotFound("Merchant")
            out: dict[str, Any] = {"merchant": {**merchant, "id": str(merchant["id"])}}
            out["endpoints"] = await (await conn.execute(_ENDPOINTS, (mid,))).fetchall()
            for name, sql in _RECENT.items():
                out[name] = await (await conn.execute(
                    sql, {"merchant": mid, "limit": RECENT})).fetchall()
            return out
        return await run_pooled(self._pool, read)

    async def owner(self, table: str, object_id: str) -> dict[str, Any] | None:
        """``{merchant_id, livemode}`` of a webhook endpoint or delivery (``table``
        "webhook_endpoints" or "webhook_logs"), or None."""
        assert table in ("webhook_endpoints", "webhook_logs")
        key = uuid_text(object_id) if table == "webhook_logs" else object_id[:64]
        if key is None:
            return None

        async def read(conn: PooledConnection) -> dict[str, Any] | None:
            cur = await conn.execute(f"SELECT merchant_id::text AS merchant_id, livemode"
                                     f" FROM {table} WHERE id = %s", (key,))
            return await cur.fetchone()
        return await run_pooled(self._pool, read)
