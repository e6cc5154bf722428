"""The embedded checkout is framed only by origins its merchant listed (finding 7.7 of the second
defect hunt: any ``parent_origin`` was taken, and the page posted the payment's result to it).
Outside test mode the merchant lists them with ``PUT /api/v1/merchant/checkout_origins``; the
page is refused, and handed no origin to post to, for any other."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

from paystate.config import Settings
from paystate.engine.clock import SystemClock
from paystate.engine.merchants import create_merchant
from tests.support import Client, ThreadGateway, make_settings

SHOP = "https://shop.example"
EVIL = "https://evil.example"


@pytest.fixture
def live_gateway(base_settings: Settings) -> Iterator[ThreadGateway]:
    """Outside test mode, where the merchant's list is what counts."""
    gw = ThreadGateway(make_settings(test_mode=False)).start()
    try:
        yield gw
    finally:
        gw.stop()


def new_merchant(gw: ThreadGateway) -> Client:
    key, secret = f"key_co_{uuid.uuid4().hex[:12]}", f"secret_{uuid.uuid4().hex}"
    create_merchant(gw.settings.database_url, name="Shop", email=f"{key}@example.com",
                    api_key=key, api_secret=secret, now=SystemClock().now())
    return Client(gw.url, {"X-Api-Key": key, "X-Api-Secret": secret})


def embedded(gw: ThreadGateway, order_id: str, parent: str) -> requests.Response:
    return requests.get(f"{gw.url}/checkout?order_id={order_id}&embedded=true"
                        f"&parent_origin={quote(parent, safe='')}", timeout=10)


def handed_origin(page: requests.Response) -> str:
    found = re.search(r'data-parent-origin="([^"]*)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def frame_ancestors(page: requests.Response) -> str:
    return page.headers["Content-Security-Policy"].split("frame-ancestors", 1)[1].strip()


def test_an_unlisted_parent_origin_gets_no_page_and_no_origin(
        live_gateway: ThreadGateway) -> None:
    merchant = new_merchant(live_gateway)
    order = merchant.order()
    page = embedded(live_gateway, order["id"], EVIL)
    assert page.status_code == 400
    assert handed_origin(page) == ""
    assert frame_ancestors(page) == "'none'"
    assert EVIL not in page.text


def test_a_listed_origin_frames_the_checkout_and_only_it(live_gateway: ThreadGateway) -> None:
    merchant = new_merchant(live_gateway)
    assert merchant.get("/api/v1/merchant").json()["checkout_origins"] == []
    r = merchant.put("/api/v1/merchant/checkout_origins",
                     {"origins": [SHOP, "http://localhost:3000/", SHOP]})
    assert r.status_code == 200, r.text
    assert r.json()["checkout_origins"] == [SHOP, "http://localhost:3000"]
    assert merchant.get("/api/v1/merchant").json()["checkout_origins"] == [
        SHOP, "http://localhost:3000"]
    order = merchant.order()
    page = embedded(live_gateway, order["id"], SHOP)
    assert page.status_code == 200
    assert handed_origin(page) == SHOP
    assert frame_ancestors(page) == SHOP
    for other in (EVIL, "http://shop.example", "https://shop.example:8443",
                  "https://sub.shop.example"):
        refused = embedded(live_gateway, order["id"], other)
        assert refused.status_code == 400, other
        assert handed_origin(refused) == ""
    # Another merchant's list does not open this one's orders.
    stranger = new_merchant(live_gateway)
    assert stranger.put("/api/v1/merchant/checkout_origins",
                        {"origins": [EVIL]}).status_code == 200
    assert embedded(live_gateway, order["id"], EVIL).status_code == 400
    # An empty list closes the embedded checkout again.
    assert merchant.put("/api/v1/merchant/checkout_origins",
                        {"origins": []}).json()["checkout_origins"] == []
    assert embedded(live_gateway, order["id"], SHOP).status_code == 400


@pytest.mark.parametrize("body", [
    {}, {"origins": SHOP}, {"origins": [SHOP + "/pay"]}, {"origins": ["javascript:alert(1)"]},
    {"origins": ["https://user@shop.example"]}, {"origins": [42]}, {"origins": ["*"]},
    {"origins": [f"https://s{i}.example" for i in range(21)]}])
def test_checkout_origins_are_bare_web_origins(client: Client, body: dict[str, object]) -> None:
    r = client.put("/api/v1/merchant/checkout_origins", body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_in_test_mode_any_origin_may_frame_the_checkout(client: Client,
                                                        gateway: ThreadGateway) -> None:
    page = embedded(gateway, client.order()["id"], EVIL)
    assert page.status_code == 200
    assert handed_origin(page) == EVIL
