"""The shopper's side: ``checkout.js`` (the SDK merchants embed), the hosted checkout page
``/checkout`` and that page's script and stylesheet. The files live in ``paystate/sdk``; this
module only serves them. The page reads and pays through the public API like any client, so
nothing here touches the engine. Handlers run on the gateway's event loop; each file is read
from the package once per process (small, at its first request) and served from memory.

Content-Security-Policy of the page: everything from the gateway's own origin only, no inline
script or style, except images: the merchant's logo may be on any https host. Framing: the standalone page (a payment link) may not be framed at all; the
embedded page (``embedded=true``) may be framed only by the origin in ``parent_origin``, which
checkout.js sets to the merchant page's origin and which is also the only origin the page posts
its messages to. A page that lies about ``parent_origin`` is therefore refused by the browser
instead of receiving messages meant for another site. Outside TEST_MODE that origin must also
be one the order's merchant listed in its ``checkout_origins``: otherwise the page is refused
(400, framed by nobody) and handed no origin, so it posts nothing anywhere.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from ...engine.bridge import NotFound
from ...machines.instruments import TEST_INSTRUMENTS
from ..base import BaseHandler
from ..errors import bad_request

ASSETS = {"checkout.js": "text/javascript; charset=utf-8",
          "checkout-page.js": "text/javascript; charset=utf-8",
          "checkout.css": "text/css; charset=utf-8"}
# The SDK's URL carries no version, so browsers recheck it every few minutes (the ETag makes a
# recheck a 304); the page's own files are referenced with ``?v=<hash>`` and never change.
SDK_MAX_AGE = 300
IMMUTABLE = "public, max-age=31536000, immutable"
# Both applied with fullmatch: re's $ would let a final newline through.
ORDER_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
# What ``urlsplit(...).hostname`` gives for a DNS name, an IPv4 or an IPv6 address.
HOST = re.compile(r"(?:[a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}|[0-9a-f:.]+")
# Origins one merchant may let embed its checkout (a shop, its staging copy, a few brands).
MAX_CHECKOUT_ORIGINS = 20
MAX_LOGO_URL = 2048
# A URL as browsers send it: printable, no spaces, quotes, angle brackets or backslashes.
URL_CHARS = re.compile(r"[!#-&(-;=?-\[\]-~]+")
# The merchant's logo may live on any https host (its own site, a CDN); scripts, styles and
# requests stay on the gateway's origin. Under TEST_MODE a logo may also come from loopback http
# (a shop running on the developer's machine, as the logo rule allows).
IMG_SRC = "img-src 'self' data: https:"
TEST_IMG_SRC = f"{IMG_SRC} http://localhost:* http://127.0.0.1:*"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")  # those TEST_IMG_SRC names (CSP takes no [::1])
BASE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; {img_src}; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    version: str


@cache
def asset(name: str) -> Asset:
    """A file of ``paystate/sdk``, read once per process (they ship with the package)."""
    body = (files("paystate") / "sdk" / name).read_bytes()
    return Asset(body, ASSETS[name], hashlib.sha256(body).hexdigest()[:12])


def web_origin(value: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) origin, rebuilt from its parts (so it is safe in a
    header and an attribute), or None when ``value`` is anything else."""
    if not value or len(value) > 255:
        return None
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if (parts.scheme not in ("http", "https") or not host or not HOST.fullmatch(host)
            or parts.username is not None or parts.password is not None
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def checkout_origins(body: dict[str, Any]) -> list[str]:
    """``{"origins": [...]}``: at most ``MAX_CHECKOUT_ORIGINS`` bare web origins, returned
    normalised (as ``web_origin`` rebuilds them) without repeats, in the order given."""
    origins = body.get("origins")
    if not isinstance(origins, list):
        raise bad_request("origins must be an array of web origins", "origins")
    if len(origins) > MAX_CHECKOUT_ORIGINS:
        raise bad_request(f"origins may list at most {MAX_CHECKOUT_ORIGINS} origins", "origins")
    kept: list[str] = []
    for value in origins:
        origin = web_origin(value) if isinstance(value, str) else None
        if origin is None:
            raise bad_request("each origin must look like https://shop.example or "
                              "https://shop.example:8443 (scheme, host and port only)",
                              "origins")
        if origin not in kept:
            kept.append(origin)
    return kept


def logo_url(value: object, *, test_mode: bool) -> str | None:
    """A merchant's checkout logo: an https URL of at most ``MAX_LOGO_URL`` characters, or http
    to a loopback host where ``test_mode`` (TEST_MODE=true). None or "" clears it. Returned
    stripped; raises the API's 400 naming the rule otherwise (the dashboard shows its text)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request("url must be a string or null")
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_LOGO_URL:
        raise bad_request(f"url must be at most {MAX_LOGO_URL} characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    if (not URL_CHARS.fullmatch(value) or not host or parts.username is not None
            or parts.password is not None):
        raise bad_request("url must be a URL like https://shop.example/logo.png")
    if parts.scheme == "https" or (parts.scheme == "http" and test_mode
                                   and host in LOOPBACK_HOSTS):
        return value
    raise bad_request("url must start with https:// (http only for localhost in TEST_MODE)")


def page_csp(test_mode: bool, ancestors: str) -> str:
    """The checkout page's Content-Security-Policy (see the module's docstring)."""
    base = BASE_CSP.format(img_src=TEST_IMG_SRC if test_mode else IMG_SRC)
    return f"{base}; frame-ancestors {ancestors}"


class AssetHandler(BaseHandler):
    """``/checkout.js``, ``/sdk/checkout.js`` and the page's files: public, cacheable, and
    loadable from any site (merchants' pages embed the SDK)."""

    def get(self, name: str) -> None:
        file = asset(name)
        self.set_header("Content-Type", file.content_type)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Cross-Origin-Resource-Policy", "cross-origin")
        if self.get_query_argument("v", None) == file.version:
            self.set_header("Cache-Control", IMMUTABLE)
        else:
            self.set_header("Cache-Control", f"public, max-age={SDK_MAX_AGE}")
        self.finish(file.body)  # Tornado adds the ETag and answers If-None-Match with 304

    head = get


class CheckoutPageHandler(BaseHandler):
    """``/checkout?order_id=...[&embedded=true&parent_origin=...][&amount=...]``."""

    def get_template_path(self) -> str:
        return str(files("paystate") / "sdk")

    async def get(self) -> None:
        order_id = self.get_query_argument("order_id", "").strip()
        # A public page: the same shared limits as the public API, per address and per order.
        await self.limit_public(("order", order_id[:64], self.deps.guards.public_order_rate))
        embedded = self.get_query_argument("embedded", "") == "true"
        parent = web_origin(self.get_query_argument("parent_origin", "")) if embedded else None
        if parent is not None and not await self.may_embed(order_id, parent):
            parent = None
        amount = self.get_query_argument("amount", "")
        problem = None
        if not ORDER_ID.fullmatch(order_id):
            problem = "This payment link has no valid order. Please ask the merchant for a new one."
        elif embedded and parent is None:
            problem = "This checkout must be opened through the merchant's website."
        if problem:
            self.set_status(400)
        ancestors = parent or "'none'"
        self.set_header("Content-Security-Policy",
                        page_csp(self.deps.settings.test_mode, ancestors))
        if not embedded:
            self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")
        self.render("checkout.html", order_id="" if problem else order_id, problem=problem,
                    embedded=embedded, parent_origin=parent or "",
                    amount=amount if amount.isdigit() and len(amount) <= 12 else "",
                    versions={name: asset(name).version for name in ASSETS},
                    test_mode=not problem and await self.test_mode_order(order_id),
                    test_instruments=TEST_INSTRUMENTS)

    async def test_mode_order(self, order_id: str) -> bool:
        """Whether this order's payments are test-mode ones (the page then says so and lists
        the instruments that pick outcomes): a test-mode order, or any under TEST_MODE."""
        if self.deps.settings.test_mode:
            return True
        try:
            return not (await self.engine.order(None, order_id)).livemode
        except NotFound:
            return False


    async def may_embed(self, order_id: str, parent: str) -> bool:
        """Whether ``parent`` may frame this order's checkout: an origin its merchant listed
        (``PUT /api/v1/merchant/checkout_origins``), or any origin where TEST_MODE=true (the
        test merchant's shop may run anywhere). An unknown order has no merchant to ask."""
        if self.deps.settings.test_mode:
            return True
        if not ORDER_ID.fullmatch(order_id):
            return False
        return parent in (await self.engine.checkout_origins(order_id) or [])


def checkout_routes() -> list[tuple[str, type]]:
    return [(r"/checkout", CheckoutPageHandler),
            (r"/(checkout\.js)", AssetHandler),
            (r"/sdk/(checkout\.js|checkout-page\.js|checkout\.css)", AssetHandler)]
