"""Webhook deliveries: list, detail with attempts, manual retry, transition history."""

from __future__ import annotations

from typing import Any

from ...engine.webhooks.bridge import WebhookBridge
from .. import inputs
from ..base import BaseHandler
from ..renderers import delivery_detail_json, delivery_json, retry_json, transition_json


class WebhookBase(BaseHandler):
    merchant_auth = True

    @property
    def webhooks(self) -> WebhookBridge:
        bridge: Any = self.deps.extras["webhooks"]
        return bridge


class WebhooksHandler(WebhookBase):
    async def get(self) -> None:
        merchant = await self.merchant()
        limit, offset = inputs.page(self.get_query_argument("limit", None),
                                    self.get_query_argument("offset", None), 10, 100)
        rows, total = await self.webhooks.deliveries(
            merchant, limit, offset, self.get_query_argument("endpoint_id", None) or None)
        self.send(200, {"data": [delivery_json(r) for r in rows], "total": total,
                        "limit": limit, "offset": offset})


class WebhookHandler(WebhookBase):
    async def get(self, delivery_id: str) -> None:
        merchant = await self.merchant()
        as_of = inputs.query_instant(self.get_query_argument("as_of", None), "as_of")
        row, attempts = await (self.webhooks.delivery(merchant, delivery_id) if as_of is None
                               else self.webhooks.delivery_as_of(merchant, delivery_id, as_of))
        self.send(200, delivery_detail_json(row, attempts))


class WebhookRetryHandler(WebhookBase):
    async def post(self, delivery_id: str) -> None:
        merchant = await self.merchant()
        result = await self.webhooks.retry(merchant, delivery_id)
        self.send(200, retry_json(result["id"], result["status"]))


class WebhookTransitionsHandler(WebhookBase):
    async def get(self, delivery_id: str) -> None:
        merchant = await self.merchant()
        self.send(200, [transition_json(t) for t in
                        await self.webhooks.transitions(merchant, delivery_id)])
