"""The admin API (``/admin/v1``): operators' bearer tokens, roles, and the same merchant
operations as the command line. A viewer's token may read and changes nothing (403); a wrong
or missing token is 401; a created merchant's keys work at once and a suspension stops its API
calls with 403 ``ACCOUNT_SUSPENDED`` until it is reinstated."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from paystate.engine.operators import DEMO_OPERATOR
from tests.integration.test_operators import cli
from tests.support import ThreadGateway, wait_until


def call(gw: ThreadGateway, method: str, path: str, token: str | None,
         body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, gw.url + path, json=body, headers=headers, timeout=30)


def new_viewer(gw: ThreadGateway) -> str:
    made = cli(gw.settings, "operators", "create", "--email",
               f"viewer-{uuid.uuid4().hex[:8]}@example.com", "--role", "viewer")
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["api_token"])


def test_tokens_and_roles(gateway: ThreadGateway) -> None:
    admin = DEMO_OPERATOR["token"]  # seeded with the demo merchant by the test session
    viewer = new_viewer(gateway)
    for token in (None, "", "ops_wrong", admin + "x"):
        r = call(gateway, "GET", "/admin/v1/merchants", token)
        assert r.status_code == 401, (token, r.text)
        assert r.json()["error"]["code"] == "AUTHENTICATION_ERROR"
    assert call(gateway, "GET", "/admin/v1/merchants", viewer).status_code == 200
    email = f"v-{uuid.uuid4().hex[:8]}@example.com"
    refused = call(gateway, "POST", "/admin/v1/merchants", viewer,
                   {"name": "Not Made", "email": email})
    assert refused.status_code == 403, refused.text
    listed = call(gateway, "GET", "/admin/v1/merchants", admin).json()["data"]
    assert email not in [m["email"] for m in listed]


def test_an_admin_onboards_suspends_and_reinstates_a_merchant(gateway: ThreadGateway) -> None:
    admin = DEMO_OPERATOR["token"]
    email = f"shop-{uuid.uuid4().hex[:8]}@example.com"
    made = call(gateway, "POST", "/admin/v1/merchants", admin, {"name": "Shop", "email": email})
    assert made.status_code == 201, made.text
    account = made.json()
    assert (account["name"], account["email"], account["status"]) == ("Shop", email, "active")
    test_keys = account["keys"]["test"]
    assert test_keys["api_key"].startswith("key_test_")
    assert account["keys"]["live"]["api_key"].startswith("key_live_")
    assert account["webhook_secret"].startswith("whsec_") and account["dashboard_password"]

    again = call(gateway, "POST", "/admin/v1/merchants", admin,
                 {"name": "Shop again", "email": email.upper()})
    assert again.status_code == 409, again.text
    for bad in ({"name": "x"}, {"name": "", "email": "a@b.co"}, {"name": 5, "email": "a@b.co"},
                {"name": "x", "email": "a@b.co", "plan": "gold"}):
        assert call(gateway, "POST", "/admin/v1/merchants", admin, bad).status_code == 400

    shown = call(gateway, "GET", f"/admin/v1/merchants/{account['id']}", admin).json()
    assert shown["id"] == account["id"] and "api_secret" not in json.dumps(shown)
    assert call(gateway, "GET", f"/admin/v1/merchants/{uuid.uuid4()}", admin).status_code == 404

    merchant = {"X-Api-Key": test_keys["api_key"], "X-Api-Secret": test_keys["api_secret"]}

    def order_status() -> int:
        return requests.post(gateway.url + "/api/v1/orders", json={"amount": 5000},
                             headers=merchant, timeout=30).status_code
    assert order_status() == 201
    assert call(gateway, "POST", f"/admin/v1/merchants/{account['id']}/suspend",
                admin).json()["status"] == "suspended"
    suspended = requests.post(gateway.url + "/api/v1/orders", json={"amount": 5000},
                              headers=merchant, timeout=30)
    assert suspended.status_code == 403, suspended.text
    assert suspended.json()["error"]["code"] == "ACCOUNT_SUSPENDED"
    assert call(gateway, "POST", f"/admin/v1/merchants/{account['id']}/reinstate",
                admin).json()["status"] == "active"
    wait_until(lambda: order_status() == 201, 5, 0.05, "the reinstated merchant's API")
