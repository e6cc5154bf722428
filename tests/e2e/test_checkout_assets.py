"""How the gateway serves checkout.js, the checkout page and its files: content types, caching
and the page's security headers (plain HTTP; the browser tests are test_checkout_browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from paystate.config import Settings
from paystate.http.handlers.checkout import asset, web_origin
from tests.support import ThreadGateway, make_settings


@pytest.fixture(scope="module")
def gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    gateway = ThreadGateway(make_settings()).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.mark.parametrize("path", ["/checkout.js", "/sdk/checkout.js"])
def test_checkout_js_is_javascript_cached_briefly_and_revalidated(
        gw: ThreadGateway, path: str) -> None:
    r = requests.get(gw.url + path, timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert r.headers["Cache-Control"] == "public, max-age=300"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "window" in r.text and "PaymentGateway" in r.text
    again = requests.get(gw.url + path, headers={"If-None-Match": r.headers["Etag"]}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    head = requests.head(gw.url + path, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == r.headers["Content-Type"]


def test_page_files_named_with_their_hash_are_immutable(gw: ThreadGateway) -> None:
    for name, content_type in (("checkout-page.js", "text/javascript"),
                               ("checkout.css", "text/css")):
        versioned = requests.get(f"{gw.url}/sdk/{name}?v={asset(name).version}", timeout=10)
        assert versioned.headers["Content-Type"].startswith(content_type)
        assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        stale = requests.get(f"{gw.url}/sdk/{name}?v=0000", timeout=10)
        assert stale.headers["Cache-Control"] == "public, max-age=300"
    assert requests.get(f"{gw.url}/sdk/checkout.html", timeout=10).status_code == 404


def test_page_headers_standalone_and_embedded(gw: ThreadGateway) -> None:
    standalone = requests.get(f"{gw.url}/checkout?order_id=order_abc", timeout=10)
    assert standalone.status_code == 200
    assert standalone.headers["Content-Type"].startswith("text/html")
    csp = standalone.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert standalone.headers["X-Frame-Options"] == "DENY"
    assert standalone.headers["Cache-Control"] == "no-store"
    assert "<script>" not in standalone.text and " on" + "click=" not in standalone.text

    embedded = requests.get(f"{gw.url}/checkout?order_id=order_abc&embedded=true"
                            "&parent_origin=https%3A%2F%2Fshop.example%3A8443", timeout=10)
    assert embedded.status_code == 200
    assert embedded.headers["Content-Security-Policy"].endswith(
        "frame-ancestors https://shop.example:8443")
    assert "X-Frame-Options" not in embedded.headers
    assert 'data-parent-origin="https://shop.example:8443"' in embedded.text


@pytest.mark.parametrize("query", [
    "order_id=order_abc&embedded=true",  # no parent_origin: the SDK always sends one
    "order_id=order_abc&embedded=true&parent_origin=javascript:alert(1)",
    "order_id=order_abc&embedded=true&parent_origin=https://a.example;%20script-src%20*",
    "",  # no order
    "order_id=%3Cscript%3E",
])
def test_bad_page_requests_get_a_message_and_no_framing(gw: ThreadGateway, query: str) -> None:
    r = requests.get(f"{gw.url}/checkout?{query}", timeout=10)
    assert r.status_code == 400
    assert r.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert 'data-order-id=""' in r.text and "<script>" not in r.text


@pytest.mark.parametrize(("value", "origin"), [
    ("https://shop.example", "https://shop.example"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("https://SHOP.example:443", "https://shop.example:443"),
    ("http://[::1]:3000", "http://[::1]:3000"),
    ("null", None), ("file:///tmp/x", None), ("https://shop.example/path", None),
    ("https://user@shop.example", None), ("https://shop.example?x=1", None),
    ("https://shop.example:99999", None), ("https://sh op.example", None), ("", None),
])
def test_parent_origin_must_be_a_bare_web_origin(value: str, origin: str | None) -> None:
    assert web_origin(value) == origin
