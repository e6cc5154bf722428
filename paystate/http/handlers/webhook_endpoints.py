"""Webhook endpoints (CRUD, secret roll, recover, a test event) and the events list."""

from __future__ import annotations

from .. import inputs
from ..errors import bad_request
from ..renderers import delivery_detail_json, endpoint_json, event_json
from .webhooks import WebhookBase

_CREATE_FIELDS = ("url", "enabled_events", "description", "format")
_UPDATE_FIELDS = ("url", "enabled_events", "description", "disabled")


class EndpointsHandler(WebhookBase):
    async def get(self) -> None:
        merchant = await self.merchant()
        rows = await self.webhooks.endpoints.list(merchant)
        health = await self.webhooks.endpoints.health(merchant)
        self.send(200, {"data": [endpoint_json(r, health.get(r["id"])) for r in rows]})

    async def post(self) -> None:
        merchant = await self.merchant()
        body = inputs.known(self.json_body(), _CREATE_FIELDS)
        row = await self.webhooks.endpoints.create(merchant, body)
        self.send(201, endpoint_json(row, with_secret=True))


class EndpointHandler(WebhookBase):
    async def get(self, endpoint_id: str) -> None:
        merchant = await self.merchant()
        row = await self.webhooks.endpoints.get(merchant, endpoint_id)
        health = await self.webhooks.endpoints.health(merchant)
        self.send(200, endpoint_json(row, health.get(row["id"])))

    async def patch(self, endpoint_id: str) -> None:
        merchant = await self.merchant()
        body = inputs.known(self.json_body(), _UPDATE_FIELDS)
        self.send(200, endpoint_json(
            await self.webhooks.endpoints.update(merchant, endpoint_id, body)))

    async def delete(self, endpoint_id: str) -> None:
        merchant = await self.merchant()
        self.send(200, await self.webhooks.endpoints.delete(merchant, endpoint_id))


class EndpointRollHandler(WebhookBase):
    """``POST {"expires_in_hours": 0-72 (24)}``: a new secret; the old one signs beside it
    until it expires."""

    async def post(self, endpoint_id: str) -> None:
        merchant = await self.merchant()
        body = inputs.known(self.json_body() if self.raw_body().strip() else {},
                      ("expires_in_hours",))
        row = await self.webhooks.endpoints.roll_secret(merchant, endpoint_id,
                                                        body.get("expires_in_hours"))
        self.send(200, endpoint_json(row, with_secret=True))


class EndpointRecoverHandler(WebhookBase):
    """``POST {"since": ISO time}``: every failed delivery since then is sent again."""

    async def post(self, endpoint_id: str) -> None:
        merchant = await self.merchant()
        body = inputs.known(self.json_body(), ("since",))
        if "since" not in body:
            raise bad_request("since is required", "since")
        n = await self.webhooks.recover(merchant, endpoint_id, body["since"])
        self.send(200, {"recovered": n})


class EndpointTestHandler(WebhookBase):
    async def post(self, endpoint_id: str) -> None:
        merchant = await self.merchant()
        row, attempts = await self.webhooks.send_test(merchant, endpoint_id)
        self.send(200, delivery_detail_json(row, attempts))


class EventsHandler(WebhookBase):
    async def get(self) -> None:
        merchant = await self.merchant()
        limit, _offset = inputs.page(self.get_query_argument("limit", None), None, 10, 100)
        rows, more = await self.webhooks.events.page(
            merchant, limit, self.get_query_argument("type", None) or None,
            self.get_query_argument("starting_after", None) or None)
        self.send(200, {"data": [event_json(r) for r in rows], "has_more": more})


class EventHandler(WebhookBase):
    async def get(self, event_id: str) -> None:
        merchant = await self.merchant()
        self.send(200, event_json(await self.webhooks.events.get(merchant, event_id)))
