"""A merchant's webhook endpoints, as the fronts manage them: coroutines on the front's event
loop over the async pool. What an endpoint may hold is decided by the pure rules of
``machines/endpoints.py``; URLs by ``urls.check_webhook_url``; what happens to deliveries
(recover, a test event) by the dispatcher actor, through ``bridge.WebhookBridge``.

An endpoint is never removed: a deleted one keeps its row (``deleted_at``), so its deliveries
keep their history. The merchant's default endpoint of a mode (``is_default``) is the one URL of
``PUT /api/v1/merchant/webhook``; its secret starts as the merchant's ``webhook_secret``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ...machines.endpoints import (
    check_description,
    check_enabled_events,
    check_format,
    check_overlap_hours,
    check_room,
)
from ...machines.errors import ValidationError
from ..audit import append_async, merchant_actor
from ..clock import Clock
from ..db import PooledConnection, ReadPool, run_pooled
from ..errors import NotFound
from ..ids import new_id
from ..merchants import INSERT_DEFAULT_ENDPOINT, Merchant, default_endpoint
from ..secrets_hash import new_webhook_secret
from .urls import check_webhook_url

_MINE = "merchant_id = %s AND livemode = %s AND deleted_at IS NULL"
_ONE = "SELECT * FROM webhook_endpoints WHERE id = %s AND " + _MINE
_LIST = "SELECT * FROM webhook_endpoints WHERE " + _MINE + " ORDER BY created_at, id"
_DEFAULT = "SELECT * FROM webhook_endpoints WHERE is_default AND " + _MINE
# Serialises a merchant's endpoint creations, so two at once cannot both pass the limit.
_LOCK_MERCHANT = "SELECT 1 FROM merchants WHERE id = %s FOR UPDATE"
_COUNT = "SELECT count(*) AS n FROM webhook_endpoints WHERE " + _MINE
_INSERT = (
    "INSERT INTO webhook_endpoints (id, merchant_id, livemode, url, enabled_events, description,"
    " format, secret, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " RETURNING *")
_ROLL = (
    "UPDATE webhook_endpoints SET previous_secret = CASE WHEN %(h)s > 0 THEN secret END,"
    " previous_expires_at = CASE WHEN %(h)s > 0 THEN %(until)s::timestamptz END,"
    " secret = %(secret)s, updated_at = %(now)s"
    " WHERE id = %(id)s AND merchant_id = %(m)s AND livemode = %(mode)s"
    " AND deleted_at IS NULL RETURNING *")
#: Per endpoint of a merchant's mode: its deliveries finished in the last day, how many
#: succeeded, and its latest attempt's answer (served by webhook_logs_endpoint_idx).
_HEALTH = (
    "SELECT e.id, h.finished, h.succeeded, l.last_attempt_at, l.response_code"
    " FROM webhook_endpoints e"
    " LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed'))"
    "   AS finished, count(*) FILTER (WHERE status = 'succeeded') AS succeeded"
    "   FROM webhook_logs WHERE endpoint_id = e.id AND created_at > %s) h ON true"
    " LEFT JOIN LATERAL (SELECT last_attempt_at, response_code FROM webhook_logs"
    "   WHERE endpoint_id = e.id AND last_attempt_at IS NOT NULL"
    "   ORDER BY created_at DESC LIMIT 1) l ON true"
    " WHERE e.merchant_id = %s AND e.livemode = %s AND e.deleted_at IS NULL")


class WebhookEndpoints:
    def __init__(self, pool: ReadPool, clock: Clock, allow_private: bool) -> None:
        self._pool = pool
        self._clock = clock
        self._allow_private = allow_private

    async def _run(self, sql: str, params: tuple[Any, ...] | dict[str, Any],
                   many: bool = False) -> Any:
        async def go(conn: PooledConnection) -> Any:
            cur = await conn.execute(sql, params)
            return await (cur.fetchall() if many else cur.fetchone())
        return await run_pooled(self._pool, go)

    async def list(self, merchant: Merchant) -> list[dict[str, Any]]:
        return list(await self._run(_LIST, (merchant.id, merchant.livemode), many=True))

    async def get(self, merchant: Merchant, endpoint_id: str) -> dict[str, Any]:
        row = await self._run(_ONE, (str(endpoint_id), merchant.id, merchant.livemode))
        if row is None:
            raise NotFound("Webhook endpoint")
        return dict(row)

    async def default(self, merchant: Merchant) -> dict[str, Any] | None:
        row = await self._run(_DEFAULT, (merchant.id, merchant.livemode))
        return dict(row) if row else None

    async def create(self, merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
        """A new enabled endpoint of the caller's mode, with a fresh secret."""
        fmt = check_format(body.get("format"))
        events = check_enabled_events(body.get("enabled_events"), fmt)
        description = check_description(body.get("description"))
        url = await check_webhook_url(body.get("url"), self._allow_private)
        now = self._clock.now()

        async def insert(conn: PooledConnection) -> dict[str, Any]:
            async with conn.transaction():
                await conn.execute(_LOCK_MERCHANT, (merchant.id,))
                count = await (await conn.execute(
                    _COUNT, (merchant.id, merchant.livemode))).fetchone()
                check_room(int(count["n"]) if count else 0)
                cur = await conn.execute(_INSERT, (
                    new_id("we_"), merchant.id, merchant.livemode, url, events, description,
                    fmt, new_webhook_secret(), now, now))
                return _row(await cur.fetchone())
        return await run_pooled(self._pool, insert)

    async def update(self, merchant: Merchant, endpoint_id: str, body: dict[str, Any],
                     by: str = "the merchant") -> dict[str, Any]:
        """PATCH: ``url``, ``enabled_events``, ``description``, ``disabled`` (its reason names
        ``by``: the merchant, or an operator of the console). Enabling a
        disabled endpoint clears its reason and its failure streak; its kept deliveries are
        due again at once (the sweeper picks them up)."""
        current = await self.get(merchant, endpoint_id)
        changes: dict[str, Any] = {}
        if "enabled_events" in body:
            changes["enabled_events"] = check_enabled_events(body["enabled_events"],
                                                             current["format"])
        if "description" in body:
            changes["description"] = check_description(body["description"])
        if "disabled" in body:
            if not isinstance(body["disabled"], bool):
                raise ValidationError("disabled must be true or false", param="disabled")
            if body["disabled"]:
                changes.update(status="disabled", disabled_reason=f"Disabled by {by}")
            elif current["status"] == "disabled":
                changes.update(status="enabled", disabled_reason=None, failing_since=None)
        if "url" in body:
            changes["url"] = await check_webhook_url(body["url"], self._allow_private)
        if not changes:
            return current
        changes["updated_at"] = self._clock.now()
        sets = ", ".join(f"{column} = %({column})s" for column in changes)
        row = await self._run(
            f"UPDATE webhook_endpoints SET {sets} WHERE id = %(id)s AND merchant_id = %(m)s"
            " AND livemode = %(mode)s AND deleted_at IS NULL RETURNING *",
            {**changes, "id": current["id"], "m": merchant.id, "mode": merchant.livemode})
        if row is None:
            raise NotFound("Webhook endpoint")
        return dict(row)

    async def delete(self, merchant: Merchant, endpoint_id: str) -> dict[str, Any]:
        """The endpoint gets no new events; deliveries already made for it fail on their
        next attempt and keep their history."""
        row = await self._run(
            "UPDATE webhook_endpoints SET deleted_at = %s, updated_at = %s WHERE id = %s AND "
            + _MINE + " RETURNING id",
            (self._clock.now(), self._clock.now(), str(endpoint_id), merchant.id,
             merchant.livemode))
        if row is None:
            raise NotFound("Webhook endpoint")
        return {"id": row["id"], "deleted": True}

    async def roll_secret(self, merchant: Merchant, endpoint_id: str,
                          expires_in_hours: Any) -> dict[str, Any]:
        """A new secret; the current one keeps signing beside it for ``expires_in_hours``
        (0: it stops at once)."""
        hours = check_overlap_hours(expires_in_hours)
        now = self._clock.now()
        params = {"h": hours, "until": now + timedelta(hours=hours),
                  "secret": new_webhook_secret(), "now": now, "id": str(endpoint_id),
                  "m": merchant.id, "mode": merchant.livemode}

        async def roll(conn: PooledConnection) -> dict[str, Any] | None:
            # The roll and its audit row commit together.
            async with conn.transaction():
                cur = await conn.execute(_ROLL, params)
                row = await cur.fetchone()
                if row is not None:
                    await append_async(conn, merchant_actor(merchant.id),
                                       "endpoint.secret_roll", f"endpoint:{row['id']}",
                                       {"expires_in_hours": hours,
                                        "livemode": merchant.livemode}, now)
                return row
        row = await run_pooled(self._pool, roll)
        if row is None:
            raise NotFound("Webhook endpoint")
        return dict(row)

    async def set_default_url(self, merchant: Merchant, url: str | None,
                              secret: str) -> dict[str, Any] | None:
        """``PUT /api/v1/merchant/webhook``: the default endpoint of the caller's mode takes
        ``url`` (made, with every event and the merchant's ``secret``, if there is none);
        ``None`` deletes it."""
        if url is not None:
            url = await check_webhook_url(url, self._allow_private)
        now = self._clock.now()

        async def put(conn: PooledConnection) -> dict[str, Any] | None:
            async with conn.transaction():
                await conn.execute(_LOCK_MERCHANT, (merchant.id,))
                current = await (await conn.execute(
                    _DEFAULT + " FOR UPDATE", (merchant.id, merchant.livemode))).fetchone()
                if url is None:
                    if current is not None:
                        await conn.execute("UPDATE webhook_endpoints SET deleted_at = %s"
                                           " WHERE id = %s", (now, current["id"]))
                    return None
                if current is not None:
                    cur = await conn.execute(
                        "UPDATE webhook_endpoints SET url = %s, updated_at = %s WHERE id = %s"
                        " RETURNING *", (url, now, current["id"]))
                else:
                    cur = await conn.execute(INSERT_DEFAULT_ENDPOINT, default_endpoint(
                        merchant.id, merchant.livemode, url, secret, now))
                return _row(await cur.fetchone())
        return await run_pooled(self._pool, put)

    async def set_default_secret(self, merchant: Merchant, secret: str) -> None:
        """The merchant's regenerated ``webhook_secret`` signs for its default endpoints (of
        both modes: they share the merchant's secret) from their next attempt."""
        await self._run("UPDATE webhook_endpoints SET secret = %s, previous_secret = NULL,"
                        " previous_expires_at = NULL, updated_at = %s WHERE merchant_id = %s"
                        " AND is_default AND deleted_at IS NULL RETURNING id",
                        (secret, self._clock.now(), merchant.id))

    async def health(self, merchant: Merchant) -> dict[str, dict[str, Any]]:
        """Per endpoint id: ``success_rate`` of its deliveries finished among those of the
        last 24 h (None without any), ``last_response_code``, ``last_attempt_at``."""
        since = self._clock.now() - timedelta(hours=24)
        rows = await self._run(_HEALTH, (since, merchant.id, merchant.livemode), many=True)
        return {r["id"]: {
            "success_rate": (r["succeeded"] / r["finished"]) if r["finished"] else None,
            "deliveries_24h": r["finished"] or 0,
            "last_response_code": r["response_code"], "last_attempt_at": r["last_attempt_at"]}
            for r in rows}


SINCE_FORMAT = "since must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z"


def parse_since(value: Any) -> datetime:
    """``recover``'s ``since``: an ISO 8601 time with its offset."""
    if not isinstance(value, str):
        raise ValidationError(SINCE_FORMAT, param="since")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(SINCE_FORMAT, param="since") from None
    if at.tzinfo is None:
        raise ValidationError("since must carry its offset (Z or +05:30)", param="since")
    return at


def _row(row: dict[str, Any] | None) -> dict[str, Any]:
    assert row is not None, "an INSERT or UPDATE ... RETURNING of a row just locked"
    return dict(row)
