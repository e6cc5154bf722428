"""The shopper's side: ``checkout.js`` (the SDK merchants embed), the hosted checkout page
``/checkout`` and that page's script and stylesheet. The files live in ``paystate/sdk``; this
module only serves them. The page reads and pays through the public API like any client, so
nothing here touches the engine. Handlers run on the gateway's event loop; each file is read
from the package once per process (small, at its first request) and served from memory.

Content-Security-Policy of the page: everything from the gateway's own origin only, no inline
script or style. Framing: the standalone page (a payment link) may not be framed at all; the
embedded page (``embedded=true``) may be framed only by the origin in ``parent_origin``, which
checkout.js sets to the merchant page's origin and which is also the only origin the page posts
its messages to. A page that lies about ``parent_origin`` is therefore refused by the browser
instead of receiving messages meant for another site.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit

from ..base import BaseHandler

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
BASE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
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
        amount = self.get_query_argument("amount", "")
        problem = None
        if not ORDER_ID.fullmatch(order_id):
            problem = "This payment link has no valid order. Please ask the merchant for a new one."
        elif embedded and parent is None:
            problem = "This checkout must be opened through the merchant's website."
        if problem:
            self.set_status(400)
        ancestors = parent or "'none'"
        self.set_header("Content-Security-Policy", f"{BASE_CSP}; frame-ancestors {ancestors}")
        if not embedded:
            self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")
        self.render("checkout.html", order_id="" if problem else order_id, problem=problem,
                    embedded=embedded, parent_origin=parent or "",
                    amount=amount if amount.isdigit() and len(amount) <= 12 else "",
                    versions={name: asset(name).version for name in ASSETS})


def checkout_routes() -> list[tuple[str, type]]:
    return [(r"/checkout", CheckoutPageHandler),
            (r"/(checkout\.js)", AssetHandler),
            (r"/sdk/(checkout\.js|checkout-page\.js|checkout\.css)", AssetHandler)]
