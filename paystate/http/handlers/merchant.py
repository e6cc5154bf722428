"""The merchant's own profile and webhook settings: url, secret, a test delivery."""

from __future__ import annotations

from .. import inputs
from ..errors import bad_request
from ..renderers import delivery_detail_json, merchant_json
from .checkout import checkout_origins
from .webhooks import WebhookBase


class MerchantHandler(WebhookBase):
    async def get(self) -> None:
        merchant = await self.merchant()
        self.send(200, merchant_json(await self.webhooks.profile(merchant)))


class WebhookUrlHandler(WebhookBase):
    """``PUT {"url": "https://..."}`` sets the URL; ``{"url": null}`` removes it."""

    async def put(self) -> None:
        merchant = await self.merchant()
        body = self.json_body()
        if "url" not in body:
            raise bad_request("url is required")
        url = inputs.text(body, "url", max_length=2048)
        row = await self.webhooks.set_webhook_url(merchant, url)
        self.send(200, merchant_json(row))


class CheckoutOriginsHandler(WebhookBase):
    """``PUT {"origins": ["https://shop.example", ...]}``: the web origins allowed to embed
    the merchant's checkout, replacing the previous list (``[]``: none)."""

    async def put(self) -> None:
        merchant = await self.merchant()
        origins = checkout_origins(self.json_body())
        self.send(200, merchant_json(await self.webhooks.set_checkout_origins(merchant, origins)))


class WebhookSecretHandler(WebhookBase):
    async def post(self) -> None:
        merchant = await self.merchant()
        self.send(200, merchant_json(await self.webhooks.rotate_secret(merchant)))


class WebhookTestHandler(WebhookBase):
    async def post(self) -> None:
        merchant = await self.merchant()
        row, attempts = await self.webhooks.send_test(merchant)
        self.send(200, delivery_detail_json(row, attempts))
