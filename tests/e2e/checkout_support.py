"""Support for the checkout browser tests: a merchant's shop served from an origin other than the
gateway's (another loopback port), headless Debian Chromium driven by Playwright, and the
fixtures and helpers both test modules use (a test module imports the fixtures it needs).

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``CHROMIUM``
overrides the path; ``.ci/run`` installs the Debian package).

``PAYSTATE_CHECKOUT_SCREENSHOTS=docs/images`` also writes the README's screenshots
(``checkout-modal.png``, ``-processing``, ``-success``, ``-error``, ``-mobile``)."""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect, sync_playwright

from paystate.config import Settings
from tests.support import ThreadGateway, loopback_site, make_settings

SCREENSHOTS = os.environ.get("PAYSTATE_CHECKOUT_SCREENSHOTS")
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

SHOP_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chai &amp; Co.</title>
<style>body{{font:16px system-ui,sans-serif;margin:0;padding:32px;background:#fffaf0}}
button{{font:inherit;padding:10px 18px}}{extra_style}</style></head>
<body><h1>Chai &amp; Co.</h1><p>Assam tea, 500 g</p>
<button id="buy" type="button">Buy now</button>
<script src="{gateway}/checkout.js"></script>
<script>
window.events = [];
window.markers = [];
window.addEventListener("message", function (e) {{
  if (e.data && e.data.marker) {{ window.markers.push(e.data.marker); }}
}});
function record(type) {{
  return function (data) {{ window.events.push({{type: type, data: data === undefined ? null : data}}); }};
}}
var options = {options};
document.getElementById("buy").addEventListener("click", function () {{
  var callbacks = {{onSuccess: record("success"), onFailure: record("failure"),
                   onClose: record("close")}};
  if (options.shorthand) {{
    window.checkout = PaymentGateway.open(Object.assign({{order_id: options.orderId,
                                                         amount: options.amount}}, callbacks));
  }} else {{
    window.checkout = new PaymentGateway(Object.assign({{key: "key_test_abc123",
                                                         orderId: options.orderId}}, callbacks));
    window.checkout.open();
  }}
}});
</script></body></html>
"""

# Posts what a hostile frame on the merchant's page might: the checkout's own message types,
# then a marker, so a test knows the forgeries were delivered before it looks.
# A merchant's logo, served by the shop (http on loopback: allowed under TEST_MODE).
LOGO_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96">'
            '<rect width="96" height="96" rx="16" fill="#b45309"/></svg>')
# ``wide=1``: a shop page 1200 px wide, wider than a phone's screen.
WIDE_STYLE = "body{width:1136px}"

FORGER_PAGE = """<!DOCTYPE html><html><body><script>
var forged = [{type: "payment_success", data: {paymentId: "pay_forged0000000000"}},
              {type: "payment_failed", data: {description: "forged"}},
              {type: "close_modal"}];
forged.forEach(function (m) { window.parent.postMessage(m, "*"); });
window.parent.postMessage({marker: "forger_done"}, "*");
</script></body></html>
"""


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")


class _ShopHandler(BaseHTTPRequestHandler):
    gateway: str = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/shop":
            options: dict[str, Any] = {"orderId": query.get("order_id", ""),
                                       "shorthand": query.get("style") == "shorthand"}
            if "amount" in query:
                options["amount"] = int(query["amount"])
            page = SHOP_PAGE.format(gateway=html.escape(self.gateway),
                                    options=json.dumps(options).replace("<", "\\u003c"),
                                    extra_style=WIDE_STYLE if "wide" in query else "")
        elif url.path == "/blank":
            page = "<!DOCTYPE html><html><body><p>blank</p></body></html>"
        elif url.path == "/frame":  # a page that frames whatever ``src`` says
            page = f'<!DOCTYPE html><iframe src="{html.escape(query.get("src", ""))}"></iframe>'
        elif url.path == "/forger":
            page = FORGER_PAGE
        elif url.path == "/logo.svg":
            self._send(LOGO_SVG.encode(), "image/svg+xml", csp=False)
            return
        else:
            self.send_error(404)
            return
        self._send(page.encode(), "text/html; charset=utf-8", csp="csp" in query)

    def _send(self, body: bytes, content_type: str, csp: bool) -> None:
        self.send_response(200)
        if csp:  # a strict merchant: only the gateway's script and frames, no styles
            self.send_header("Content-Security-Policy",
                             f"default-src 'none'; script-src 'unsafe-inline' {self.gateway}; "
                             f"frame-src {self.gateway}; style-src 'none'")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def shop_site(gateway_url: str) -> Iterator[str]:
    """A merchant's site on its own loopback port (its own origin); yields its base URL."""
    handler = type("ShopHandler", (_ShopHandler,), {"gateway": gateway_url})
    with loopback_site(handler, "shop-site") as url:
        yield url


def tid(name: str) -> str:
    return f"[data-test-id={name}]"


def pay_button(form: str = "upi-form") -> str:
    """A form's own pay button, found through its form as the seed's checkers find it."""
    return f"{tid(form)} {tid('pay-button')}"


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    assert path, "Chromium is needed: apt-get install chromium (or set CHROMIUM=/path)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def running_gateway(**overrides: Any) -> Iterator[ThreadGateway]:
    gateway = ThreadGateway(make_settings(test_processing_delay_ms=200, **overrides)).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    with running_gateway() as gateway:
        yield gateway


@pytest.fixture(scope="module")
def declining_gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    """TEST_PAYMENT_SUCCESS=false: every payment is declined."""
    with running_gateway(test_payment_success=False) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def shop(gw: ThreadGateway) -> Iterator[str]:
    with shop_site(gw.url) as url:
        yield url


@pytest.fixture(scope="module")
def declining_shop(declining_gw: ThreadGateway) -> Iterator[str]:
    with shop_site(declining_gw.url) as url:
        yield url


@pytest.fixture(scope="module")
def foreign(gw: ThreadGateway) -> Iterator[str]:
    """A third origin, neither the gateway nor the merchant."""
    with shop_site(gw.url) as url:
        yield url


class Console:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.page_errors: list[str] = []


@pytest.fixture
def console() -> Console:
    return Console()


def new_page(browser: Browser, console: Console, width: int = 1000,
             height: int = 760) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.page_errors.append(str(e)))
    return page


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    p = new_page(browser, console)
    try:
        yield p
    finally:
        p.context.close()
    assert not console.page_errors, console.page_errors


# -- helpers --------------------------------------------------------------------------------

def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"checkout-{name}.png"))


def open_checkout(page: Page, shop: str, order_id: str, **query: str) -> FrameLocator:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    page.goto(f"{shop}/shop?order_id={order_id}{extra}")
    page.click("#buy")
    frame = page.frame_locator(tid("payment-iframe"))
    expect(frame.locator(pay_button())).to_be_visible()
    return frame


def events(page: Page, count: int) -> list[dict[str, Any]]:
    page.wait_for_function("n => window.events.length >= n", arg=count, timeout=TIMEOUT_MS)
    result: list[dict[str, Any]] = page.evaluate("window.events")
    return result


def pay_upi(frame: FrameLocator, vpa: str = "shopper@okbank") -> None:
    frame.locator(tid("method-upi")).click()
    frame.locator(tid("vpa-input")).fill(vpa)
    frame.locator(pay_button()).click()


def wait_marker(page: Page, marker: str) -> None:
    page.wait_for_function("m => window.markers.includes(m)", arg=marker, timeout=TIMEOUT_MS)
