"""The merchant's own profile and webhook settings: url, secret, a test delivery."""

from __future__ import annotations

from .. import inputs
from ..errors import bad_request
from ..renderers import delivery_detail_json, merchant_json
from .checkout import checkout_origins, logo_url
from .webhooks import WebhookBase


class MerchantHandler(WebhookBase):
    async def get(self) -> None:
        merchant = await self.merchant()
        self.send(200, merchant_json(await self.webhooks.profile(merchant)))


class WebhookUrlHandler(WebhookBase):
    """``PUT {"url": "https://..."}`` sets the URL; ``{"url": null}`` removes it."""

    async def put(self) -> None:
        merchant = await self.merchant()
        body = inputs.known(self.json_body(), ("url",))
        if "url" not in body:
            raise bad_request("url is required", "url")
        url = inputs.text(body, "url", max_length=2048)
        row = await self.webhooks.set_webhook_url(merchant, url)
        self.send(200, merchant_json(row))


class CheckoutOriginsHandler(WebhookBase):
    """``PUT {"origins": ["https://shop.example", ...]}``: the web origins allowed to embed
    the merchant's checkout, replacing the previous list (``[]``: none)."""

    async def put(self) -> None:
        merchant = await self.merchant()
        origins = checkout_origins(inputs.known(self.json_body(), ("origins",)))
        self.send(200, merchant_json(await self.webhooks.set_checkout_origins(merchant, origins)))


class LogoHandler(WebhookBase):
    """``PUT {"url": "https://shop.example/logo.png"}``: the logo the hosted checkout shows
    beside the merchant's name; ``{"url": null}`` (or "") removes it."""

    async def put(self) -> None:
        merchant = await self.merchant()
        body = self.json_body()
        if "url" not in body:
            raise bad_request("url is required (null removes the logo)")
        url = logo_url(body["url"], test_mode=self.deps.settings.test_mode)
        self.send(200, merchant_json(await self.webhooks.set_logo_url(merchant, url)))


class WebhookSecretHandler(WebhookBase):
    async def post(self) -> None:
        merchant = await self.merchant()
        self.send(200, merchant_json(await self.webhooks.rotate_secret(merchant)))


class WebhookTestHandler(WebhookBase):
    async def post(self) -> None:
        merchant = await self.merchant()
        row, attempts = await self.webhooks.send_test(merchant)
        self.send(200, delivery_detail_json(row, attempts))


class KeyRollHandler(WebhookBase):
    """``POST {"mode": "test" | "live", "expires_in_hours": 0-168 (24)}``: a new secret for
    the merchant's key of that mode; the old one works until ``previous_expires_at``."""

    async def post(self) -> None:
        merchant = await self.merchant()
        body = inputs.known(self.json_body(), ("mode", "expires_in_hours"))
        mode = inputs.text(body, "mode", required=True, max_length=8)
        if mode not in ("test", "live"):
            raise bad_request("mode must be one of: test, live", "mode")
        hours = inputs.integer(body, "expires_in_hours", required=False, minimum=0,
                               minimum_message="expires_in_hours must be from 0 to 168")
        hours = 24 if hours is None else hours
        if hours > 168:
            raise bad_request("expires_in_hours must be from 0 to 168", "expires_in_hours")
        self.send(200, await self.engine.roll_key(merchant, mode, hours))
