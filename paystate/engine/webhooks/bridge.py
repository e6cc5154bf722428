"""The webhooks' face for HTTP fronts: coroutines on the front's event loop that never block it.

Reads and the merchant's own settings (url, secret) go to PostgreSQL through the async pool;
decisions about deliveries (manual retry, a test delivery) go to the dispatcher actor, whose
concurrent Future is awaited with ``asyncio.wrap_future``. Nothing here imports a web framework.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from ...machines.errors import ValidationError
from ..audit import Actor, append_async, merchant_actor
from ..clock import Clock
from ..db import PooledConnection, ReadPool, counted_page, run_pooled
from ..errors import NotFound
from ..history import delivery_as_of
from ..ids import uuid_text
from ..merchants import SETTINGS, UPDATE_SETTING, AuthCache, Merchant
from ..queries import Queries
from ..secrets_hash import new_webhook_secret
from .deliveries import ATTEMPTS, DELIVERY_PROGRESS, LIST_COLUMNS, LIST_ORDER, MERCHANTS_DELIVERY
from .dispatcher import WebhookDispatcher
from .endpoints import WebhookEndpoints, parse_since
from .events import EventLog

TEST_EVENT = "webhook.test"


class WebhookBridge:
    def __init__(self, dispatcher: WebhookDispatcher, pool: ReadPool,
                 queries: Queries, clock: Clock, auth_cache: AuthCache, allow_private: bool,
                 test_wait_s: float = 6.5) -> None:
        self._dispatcher = dispatcher
        self._pool = pool
        self._queries = queries
        self._clock = clock
        self._auth_cache = auth_cache
        self._allow_private = allow_private
        self._test_wait_s = test_wait_s
        self.endpoints = WebhookEndpoints(pool, clock, allow_private)
        self.events = EventLog(pool)

    async def _one(self, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        async def one(conn: PooledConnection) -> dict[str, Any] | None:
            return await (await conn.execute(sql, params)).fetchone()
        return await run_pooled(self._pool, one)

    # -- deliveries ----------------------------------------------------------------------

    async def deliveries(self, merchant: Merchant, limit: int, offset: int,
                         endpoint_id: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """The merchant's deliveries (to one endpoint, given ``endpoint_id``), newest first,
        and how many there are in all."""
        where, params = "merchant_id = %s AND livemode = %s", [merchant.id, merchant.livemode]
        if endpoint_id is not None:
            where, params = where + " AND endpoint_id = %s", [*params, endpoint_id]
        return await counted_page(self._pool, "webhook_logs", where, tuple(params), limit,
                                  offset, columns=LIST_COLUMNS, order=LIST_ORDER)

    async def delivery(self, merchant: Merchant,
                       delivery_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The delivery row and its attempts, oldest first; ``NotFound`` if it is not the
        merchant's."""
        did = uuid_text(delivery_id)
        if did is None:
            raise NotFound("Webhook")

        async def with_attempts(conn: PooledConnection) -> tuple[dict[str, Any],
                                                                 list[dict[str, Any]]]:
            cur = await conn.execute(MERCHANTS_DELIVERY, (did, merchant.id, merchant.livemode))
            row = await cur.fetchone()
            if row is None:
                raise NotFound("Webhook")
            cur = await conn.execute(ATTEMPTS, (did,))
            return row, await cur.fetchall()
        return await run_pooled(self._pool, with_attempts)

    async def delivery_as_of(self, merchant: Merchant, delivery_id: str, at: datetime
                             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The delivery as it stood at ``at``, rebuilt from its transitions, with the attempts
        recorded by then (each is a transition: those up to its ``version`` then);
        ``NotFound`` if it is not the merchant's or did not exist yet."""
        row, attempts = await self.delivery(merchant, delivery_id)
        then = delivery_as_of(row, await self._queries.steps(str(row["id"])), at,
                              self._dispatcher.config.schedule)
        if then is None:
            raise NotFound("Webhook")
        return then, [a for a in attempts if a["seq"] <= then["version"]]

    async def transitions(self, merchant: Merchant, delivery_id: str) -> list[dict[str, Any]]:
        row, _ = await self.delivery(merchant, delivery_id)
        return await self._queries.transitions(str(row["id"]))

    async def retry(self, merchant: Merchant, delivery_id: str) -> dict[str, Any]:
        """Manual retry: attempts start again from zero, the first one due at once."""
        row, _ = await self.delivery(merchant, delivery_id)
        delivery = await asyncio.wrap_future(
            self._dispatcher.retry(str(row["id"]), merchant.id))
        return {"id": delivery.id, "status": delivery.status}

    async def send_test(self, merchant: Merchant, endpoint_id: str | None = None,
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Create a ``webhook.test`` delivery to the endpoint (the default one when None) and
        return it once its first attempt is recorded (or after ``test_wait_s``, still pending,
        if no worker got to it by then)."""
        if endpoint_id is None:
            if await self.endpoints.default(merchant) is None:
                raise ValidationError("Webhook URL is not configured")
        else:
            await self.endpoints.get(merchant, endpoint_id)
        now = self._clock.now()
        delivery = await asyncio.wrap_future(self._dispatcher.create_delivery(
            merchant.id, TEST_EVENT,
            {"message": "Test webhook from Paystate", "merchant_id": merchant.id,
             "sent_at": int(now.timestamp())}, merchant.livemode, endpoint_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._test_wait_s
        while loop.time() < deadline:
            row = await self._one(DELIVERY_PROGRESS, (delivery.id,))
            if row is not None and (row["attempts"] > 0 or row["status"] != "pending"):
                break
            await asyncio.sleep(0.05)
        return await self.delivery(merchant, delivery.id)

    # -- the merchant's webhook settings ---------------------------------------------------

    async def recover(self, merchant: Merchant, endpoint_id: str, since: Any) -> int:
        """Every failed delivery of the endpoint created since ``since`` is sent again."""
        at = parse_since(since)
        endpoint = await self.endpoints.get(merchant, endpoint_id)
        return await asyncio.wrap_future(self._dispatcher.recover(endpoint["id"], merchant.id, at))

    # -- the merchant's webhook settings ---------------------------------------------------

    async def profile(self, merchant: Merchant) -> dict[str, Any]:
        """The merchants row as the caller sees it: ``webhook_url`` (and the secret that signs
        for it) are its default endpoint's in the caller's mode."""
        row = await self._queries.merchant_by_id(merchant.id)
        if row is None:
            raise NotFound("Merchant")
        default = await self.endpoints.default(merchant)
        return {**_as_seen_by(merchant, row),
                "webhook_url": default["url"] if default else None,
                "webhook_secret": default["secret"] if default else row["webhook_secret"]}

    async def set_webhook_url(self, merchant: Merchant, url: str | None) -> dict[str, Any]:
        """Point the default endpoint at ``url`` after ``check_webhook_url`` (``None``
        removes it)."""
        row = await self._queries.merchant_by_id(merchant.id)
        if row is None:
            raise NotFound("Merchant")
        await self.endpoints.set_default_url(merchant, url, row["webhook_secret"])
        return await self.profile(merchant)

    async def set_checkout_origins(self, merchant: Merchant,
                                   origins: list[str]) -> dict[str, Any]:
        """Replace the web origins allowed to embed the merchant's checkout (already
        checked and normalised by the caller)."""
        await self._update(merchant, "checkout_origins", origins)
        return await self.profile(merchant)

    async def set_logo_url(self, merchant: Merchant, url: str | None) -> dict[str, Any]:
        """Set (None: clear) the logo the hosted checkout shows beside the merchant's name
        (already checked by the caller: ``http.handlers.checkout.logo_url``)."""
        await self._update(merchant, "logo_url", url)
        return await self.profile(merchant)

    async def rotate_secret(self, merchant: Merchant) -> dict[str, Any]:
        """A new ``whsec_`` + base64 secret for the merchant and its default endpoints;
        deliveries sign with it from their next attempt."""
        secret = new_webhook_secret()
        await self._update(merchant, "webhook_secret", secret)
        await self.endpoints.set_default_secret(merchant, secret)
        await self.audit(merchant_actor(merchant.id), "merchant.webhook_secret_regenerate",
                         f"merchant:{merchant.id}", {"livemode": merchant.livemode})
        return await self.profile(merchant)

    async def audit(self, actor: Actor, action: str, target: str,
                    details: dict[str, Any]) -> None:
        """Append an audit row on its own (for a change that committed just before)."""
        async def write(conn: PooledConnection) -> None:
            await append_async(conn, actor, action, target, details, self._clock.now())
        await run_pooled(self._pool, write)

    async def _update(self, merchant: Merchant, column: str,
                      value: str | list[str] | None) -> None:
        assert column in SETTINGS
        row = await self._one(UPDATE_SETTING.format(column=column),
                              (value, self._clock.now(), merchant.id))
        # The cached Merchant carries the old value: drop it here; other processes within
        # the cache's ttl. The dispatcher reads url and secret fresh on every attempt.
        self._auth_cache.invalidate(merchant.id)
        if row is None:
            raise NotFound("Merchant")


def _as_seen_by(merchant: Merchant, row: dict[str, Any]) -> dict[str, Any]:
    """The merchants row with the caller's own key and mode (a live key sees its live key)."""
    return {**row, "api_key": merchant.api_key, "livemode": merchant.livemode}
