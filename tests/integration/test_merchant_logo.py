"""The merchant's checkout logo: ``PUT /api/v1/merchant/logo {url}`` sets it (https only; http
for a loopback host under TEST_MODE), ``GET /api/v1/merchant`` shows it, and the public order
the checkout reads carries it with the merchant's display name."""

# live_gateway is a fixture imported from test_checkout_origins; arguments name it again.
# ruff: noqa: F811
from __future__ import annotations

import pytest

from tests.integration.test_checkout_origins import (  # noqa: F401 (a fixture)
    live_gateway,
    new_merchant,
)
from tests.support import Client, ThreadGateway

LOGO = "https://shop.example/brand/logo.png?v=2"


def public_order(client: Client, order_id: str) -> dict[str, object]:
    r = client.get(f"/api/v1/orders/{order_id}/public", auth=False)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_a_logo_set_through_the_api_is_shown_by_the_public_order(
        live_gateway: ThreadGateway) -> None:
    merchant = new_merchant(live_gateway)
    assert merchant.get("/api/v1/merchant").json()["logo_url"] is None
    order = merchant.order(receipt="INV-2024-0042")
    assert public_order(merchant, order["id"])["merchant"] == {"name": "Shop", "logo_url": None}

    r = merchant.put("/api/v1/merchant/logo", {"url": f"  {LOGO} "})
    assert r.status_code == 200, r.text
    assert r.json()["logo_url"] == LOGO
    assert merchant.get("/api/v1/merchant").json()["logo_url"] == LOGO
    shown = public_order(merchant, order["id"])
    assert shown["merchant"] == {"name": "Shop", "logo_url": LOGO}
    assert shown["receipt"] == "INV-2024-0042"

    # Another merchant's logo is its own.
    other = new_merchant(live_gateway)
    assert public_order(other, other.order()["id"])["merchant"] == {"name": "Shop",
                                                                     "logo_url": None}
    assert merchant.put("/api/v1/merchant/logo", {"url": None}).json()["logo_url"] is None
    assert public_order(merchant, order["id"])["merchant"] == {"name": "Shop", "logo_url": None}


@pytest.mark.parametrize("body", [
    {}, {"url": 42}, {"url": "http://shop.example/logo.png"},
    {"url": "http://127.0.0.1:8000/logo.png"},  # loopback http: TEST_MODE only
    {"url": "javascript:alert(1)"}, {"url": "data:image/png;base64,AAAA"},
    {"url": "https://user:pw@shop.example/logo.png"}, {"url": 'https://shop.example/"x'},
    {"url": "https://shop.example/" + "a" * 2030}])
def test_logo_urls_outside_test_mode_are_https_only(live_gateway: ThreadGateway,
                                                    body: dict[str, object]) -> None:
    merchant = new_merchant(live_gateway)
    r = merchant.put("/api/v1/merchant/logo", body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert merchant.get("/api/v1/merchant").json()["logo_url"] is None


def test_in_test_mode_a_loopback_http_logo_is_allowed(client: Client) -> None:
    r = client.put("/api/v1/merchant/logo", {"url": "http://127.0.0.1:8000/logo.svg"})
    assert r.status_code == 200, r.text
    assert client.put("/api/v1/merchant/logo", {"url": "http://shop.example/logo.svg"}
                      ).status_code == 400
    client.put("/api/v1/merchant/logo", {"url": None})
