"""A database seeded before (every start used to seed the demo merchant) and a gateway that now
runs with neither ``TEST_MODE`` nor ``SEED_TEST_MERCHANT``: the row is there, yet its public
credentials open nothing, and ``/api/v1/test/merchant`` does not show it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from paystate.config import Settings
from tests.support import ThreadGateway, make_settings


@pytest.fixture
def unasked(base_settings: Settings) -> Iterator[ThreadGateway]:
    """On the session's database, where conftest seeded the demo merchant; no worker parts,
    so that no sweeper takes up other tests' work."""
    gw = ThreadGateway(make_settings(test_mode=False, seed_test_merchant=False),
                       worker=False).start()
    try:
        yield gw
    finally:
        gw.stop()


def test_an_old_demo_row_opens_nothing_where_the_demo_is_not_asked_for(
        unasked: ThreadGateway) -> None:
    c = unasked.client
    r = c.post("/api/v1/orders", {"amount": 50000})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "AUTHENTICATION_ERROR"
    # The Razorpay dialect's Basic auth reaches the same check.
    basic = requests.get(unasked.url + "/v1/orders", timeout=10,
                         auth=("key_test_abc123", "secret_test_xyz789"))
    assert basic.status_code == 401, basic.text

    shown = c.get("/api/v1/test/merchant", auth=False)
    assert shown.status_code == 404, shown.text
    assert shown.json()["error"]["code"] == "NOT_FOUND_ERROR"

    session = requests.Session()
    form = session.get(unasked.url + "/login", timeout=10)
    token = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
    assert token is not None
    login = session.post(unasked.url + "/login", allow_redirects=False, timeout=10,
                         data={"_xsrf": token.group(1), "email": "test@example.com",
                               "password": unasked.settings.test_merchant_password})
    assert login.status_code == 401, (login.status_code, login.headers)

