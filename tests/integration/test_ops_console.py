"""The operator console over plain HTTP: its own session cookie (a merchant's dashboard cookie
opens nothing on /ops, an operator's nothing on /dashboard), XSRF bound to the session, the
sign-in rate limit, viewers refused any change (403, nothing changed), every action audited, and
the overview's figures (state counters kept by triggers, stuck work, consumer groups)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests

from paystate.config import Settings
from paystate.engine.merchants import TEST_MERCHANT, seed_test_merchant
from paystate.engine.migrations import migrate
from paystate.engine.operators import create_operator
from tests.integration.test_admin_api import call
from tests.integration.test_audit_log import ADMIN
from tests.support import ThreadGateway, make_settings, scratch_database, wait_until

DASHBOARD_EMAIL = "test@example.com"


@pytest.fixture(scope="module")
def gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    with ThreadGateway(make_settings(dashboard_login_rate_limit="1000/minute")) as gateway:
        yield gateway


def operator(settings: Settings, role: str) -> tuple[str, str]:
    made = create_operator(settings.database_url, f"{role}-{uuid.uuid4().hex[:8]}@example.com",
                           role, datetime.now(UTC))
    return made["email"], made["password"]


def xsrf(http: requests.Session, url: str) -> str:
    found = re.search(r'name="_xsrf" value="([^"]+)"', http.get(url, timeout=10).text)
    assert found, url
    return found.group(1)


def sign_in(gw: ThreadGateway, email: str, password: str) -> requests.Session:
    http = requests.Session()
    token = xsrf(http, gw.url + "/ops/login")
    r = http.post(gw.url + "/ops/login", data={"_xsrf": token, "email": email,
                                               "password": password},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/ops", r.text[:300]
    assert "paystate_ops_session" in http.cookies
    return http


def dashboard_session(gw: ThreadGateway) -> requests.Session:
    http = requests.Session()
    found = re.search(r'name="_xsrf" value="([^"]+)"', http.get(gw.url + "/login").text)
    assert found
    r = http.post(gw.url + "/login", data={"_xsrf": found.group(1), "email": DASHBOARD_EMAIL,
                                           "password": gw.settings.test_merchant_password},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:300]
    return http


def with_endpoint(gw: ThreadGateway, name: str, url: str) -> tuple[dict[str, Any],
                                                                    dict[str, str],
                                                                    dict[str, Any]]:
    """A new merchant (made by the admin API), its test key's headers, and an endpoint."""
    made: dict[str, Any] = call(gw, "POST", "/admin/v1/merchants", ADMIN, {
        "name": name, "email": f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"}).json()
    keys = made["keys"]["test"]
    auth = {"X-Api-Key": keys["api_key"], "X-Api-Secret": keys["api_secret"]}
    endpoint = requests.post(gw.url + "/api/v1/webhook_endpoints", headers=auth, timeout=10,
                             json={"url": url, "enabled_events": ["payment.success"]})
    assert endpoint.status_code == 201, endpoint.text
    return made, auth, endpoint.json()


def test_sessions_are_apart_from_the_dashboards_both_ways(gw: ThreadGateway) -> None:
    email, password = operator(gw.settings, "viewer")
    ops = sign_in(gw, email, password)
    assert ops.get(gw.url + "/ops", allow_redirects=False).status_code == 200
    # The operator's cookie opens no dashboard page, even under the dashboard's cookie name.
    assert ops.get(gw.url + "/dashboard", allow_redirects=False).status_code == 302
    moved = requests.get(gw.url + "/dashboard", allow_redirects=False, timeout=10,
                         cookies={"paystate_session": ops.cookies["paystate_ops_session"]})
    assert moved.status_code == 302 and moved.headers["Location"].startswith("/login")
    dash = dashboard_session(gw)
    assert dash.get(gw.url + "/dashboard", allow_redirects=False).status_code == 200
    r = dash.get(gw.url + "/ops", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith("/ops/login")
    moved = requests.get(gw.url + "/ops", allow_redirects=False, timeout=10,
                         cookies={"paystate_ops_session": dash.cookies["paystate_session"]})
    assert moved.status_code == 302 and moved.headers["Location"].startswith("/ops/login")
    # The dashboard's XSRF token is no token of the console's.
    dash_token = xsrf(dash, gw.url + "/dashboard/webhooks")
    r = ops.post(gw.url + "/ops/logout", data={"_xsrf": dash_token}, allow_redirects=False)
    assert r.status_code == 403


def test_a_viewer_sees_everything_and_changes_nothing(gw: ThreadGateway) -> None:
    made = call(gw, "POST", "/admin/v1/merchants", ADMIN,
                {"name": "Viewed", "email": f"viewed-{uuid.uuid4().hex[:8]}@example.com"})
    merchant_id = made.json()["id"]
    email, password = operator(gw.settings, "viewer")
    http = sign_in(gw, email, password)
    for path in ("/ops", "/ops/merchants", f"/ops/merchants/{merchant_id}", "/ops/audit"):
        assert http.get(gw.url + path).status_code == 200, path
    token = xsrf(http, gw.url + f"/ops/merchants/{merchant_id}")
    r = http.post(gw.url + f"/ops/merchants/{merchant_id}/suspend", data={"_xsrf": token},
                  allow_redirects=False)
    assert r.status_code == 403
    assert call(gw, "GET", f"/admin/v1/merchants/{merchant_id}",
                ADMIN).json()["status"] == "active"


def test_an_admin_suspends_and_the_audit_names_the_operator(gw: ThreadGateway) -> None:
    made = call(gw, "POST", "/admin/v1/merchants", ADMIN,
                {"name": "Acted On", "email": f"acted-{uuid.uuid4().hex[:8]}@example.com"}).json()
    email, password = operator(gw.settings, "admin")
    http = sign_in(gw, email, password)
    page = gw.url + f"/ops/merchants/{made['id']}"
    # No token, a wrong one: refused, nothing done.
    for data in ({}, {"_xsrf": "0" * 64}):
        assert http.post(page + "/suspend", data=data, allow_redirects=False).status_code == 403
    r = http.post(page + "/suspend", data={"_xsrf": xsrf(http, page)}, allow_redirects=False)
    assert r.status_code == 302, r.text[:300]
    keys = made["keys"]["test"]
    refused = requests.get(gw.url + "/api/v1/payments/pay_none", timeout=10, headers={
        "X-Api-Key": keys["api_key"], "X-Api-Secret": keys["api_secret"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ACCOUNT_SUSPENDED"
    audit = http.get(gw.url + "/ops/audit").text
    assert "merchant.suspend" in audit and email in audit and made["id"] in audit


def test_endpoint_actions_go_through_the_engine_and_are_audited(gw: ThreadGateway) -> None:
    made, auth, endpoint = with_endpoint(gw, "Hooks", "https://example.com/h")
    email, password = operator(gw.settings, "admin")
    http = sign_in(gw, email, password)
    page = gw.url + f"/ops/merchants/{made['id']}"
    base = page + f"/endpoints/{endpoint['id']}"
    for action in ("disable", "enable"):
        r = http.post(f"{base}/{action}", data={"_xsrf": xsrf(http, page)},
                      allow_redirects=False)
        assert r.status_code == 302, r.text[:300]
        shown = requests.get(gw.url + f"/api/v1/webhook_endpoints/{endpoint['id']}",
                             headers=auth, timeout=10).json()
        assert shown["status"] == ("disabled" if action == "disable" else "enabled")
        assert shown["disabled_reason"] == (
            f"Disabled by an operator ({email})" if action == "disable" else None)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = http.post(f"{base}/recover", data={"_xsrf": xsrf(http, page), "since": since},
                  allow_redirects=False)
    assert r.status_code == 302, r.text[:300]
    # Another merchant's endpoint is not this merchant's: 404, nothing done.
    r = http.post(gw.url + f"/ops/merchants/{uuid.uuid4()}/endpoints/{endpoint['id']}/disable",
                  data={"_xsrf": xsrf(http, page)}, allow_redirects=False)
    assert r.status_code == 404
    rows = call(gw, "GET", f"/admin/v1/audit?target=endpoint:{endpoint['id']}", ADMIN).json()
    assert [(r["action"], r["actor"]) for r in rows["data"]] == [
        ("endpoint.recover", email), ("endpoint.enable", email), ("endpoint.disable", email)]


def test_sign_in_is_rate_limited(base_settings: Settings) -> None:
    with ThreadGateway(make_settings(dashboard_login_rate_limit="4/minute")) as gw:
        email, password = operator(gw.settings, "viewer")
        http = requests.Session()
        codes = []
        for _ in range(5):
            token = xsrf(http, gw.url + "/ops/login")
            codes.append(http.post(gw.url + "/ops/login", allow_redirects=False, timeout=10,
                                   data={"_xsrf": token, "email": email,
                                         "password": "wrong"}).status_code)
        assert codes == [401, 401, 401, 401, 429]
        # The right password too, until the minute is over.
        token = xsrf(http, gw.url + "/ops/login")
        assert http.post(gw.url + "/ops/login", allow_redirects=False, timeout=10, data={
            "_xsrf": token, "email": email, "password": password}).status_code == 429


def test_the_counters_follow_inserts_updates_and_deletes(settings: Settings) -> None:
    def counted() -> dict[str, int]:
        with psycopg.connect(settings.database_url) as conn:
            return {state: int(n) for state, n in conn.execute(
                "SELECT state, sum(n) FROM state_counts WHERE kind = 'payment'"
                " AND NOT livemode GROUP BY state").fetchall()}

    def actual() -> dict[str, int]:
        with psycopg.connect(settings.database_url) as conn:
            return {state: int(n) for state, n in conn.execute(
                "SELECT status, count(*) FROM payments WHERE NOT livemode"
                " GROUP BY status").fetchall()}
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("SELECT paystate_fold_state_counts()")
    assert {k: v for k, v in counted().items() if v} == actual()


def test_stats_show_stuck_work_and_consumer_groups(gw: ThreadGateway) -> None:
    figures = call(gw, "GET", "/admin/v1/stats", ADMIN)
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert set(body) >= {"counts", "rates", "stuck", "workers", "streams", "health"}
    assert body["health"]["postgres"]["ok"] and body["health"]["redis"]["ok"]
    wait_until(lambda: call(gw, "GET", "/admin/v1/stats", ADMIN).json()["workers"], 10)
    groups = {(g["stream"].split(":", 1)[1], g["group"]) for g in
              call(gw, "GET", "/admin/v1/stats?mode=test", ADMIN).json()["streams"]}
    assert groups, "the worker made its consumer groups"
    assert call(gw, "GET", "/admin/v1/stats?mode=other", ADMIN).status_code == 400


def test_metrics_show_stuck_work_and_consumer_lag(gw: ThreadGateway) -> None:
    from tests.integration.test_metrics import samples

    wait_until(lambda: any(name == "paystate_consumer_group_lag"
                           for name, _ in samples(gw.client)), 10)
    m = samples(gw.client)
    for machine in ("payment", "refund", "webhook_delivery"):
        assert ("paystate_stuck_work", (("machine", machine),)) in m
    groups = {dict(labels)["group"] for name, labels in m
              if name == "paystate_consumer_group_pending"}
    assert {"processor", "webhooks"} <= groups


def test_a_delivery_retried_from_the_console_is_audited(gw: ThreadGateway) -> None:
    made, auth, endpoint = with_endpoint(gw, "Retried", "http://127.0.0.1:9/closed")
    sent = requests.post(gw.url + f"/api/v1/webhook_endpoints/{endpoint['id']}/test",
                         headers=auth, timeout=30)
    assert sent.status_code == 200, sent.text
    delivery_id = sent.json()["id"]
    email, password = operator(gw.settings, "admin")
    http = sign_in(gw, email, password)
    page = gw.url + f"/ops/merchants/{made['id']}"
    assert delivery_id in http.get(page).text
    r = http.post(page + f"/deliveries/{delivery_id}/retry", data={"_xsrf": xsrf(http, page)},
                  allow_redirects=False)
    assert r.status_code == 302, r.text[:300]
    rows = call(gw, "GET", f"/admin/v1/audit?target=delivery:{delivery_id}", ADMIN).json()
    assert [(r["action"], r["actor"], r["details"]) for r in rows["data"]] == [
        ("delivery.retry", email, {"merchant_id": made["id"]})]


def test_the_migration_counts_the_rows_already_there(base_settings: Settings) -> None:
    url = scratch_database(base_settings, "paystate_before_016", before="016")
    seed_test_merchant(url, "pw", datetime.now(UTC))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO orders (id, merchant_id, amount, currency, status, version,"
                     " created_at, updated_at) SELECT 'order_old_' || i, %s, 50000, 'INR',"
                     " 'created', 1, now(), now() FROM generate_series(1, 3) AS i",
                     (TEST_MERCHANT["id"],))
        conn.execute("INSERT INTO payments (id, order_id, merchant_id, amount, currency, method,"
                     " status, version, created_at, updated_at, livemode) SELECT"
                     " 'pay_old_' || i, 'order_old_' || i, %s, 50000, 'INR', 'upi',"
                     " CASE WHEN i = 1 THEN 'pending' ELSE 'failed' END, 1, now(), now(),"
                     " i = 3 FROM generate_series(1, 3) AS i", (TEST_MERCHANT["id"],))
    migrate(url)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT livemode, state, sum(n)::int FROM state_counts"
                            " WHERE kind = 'payment' GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    assert rows == [(False, "failed", 1), (False, "pending", 1), (True, "failed", 1)]


def state_counts(html: str, machine: str) -> dict[str, int]:
    return {state: int(n) for state, n in re.findall(
        rf'data-machine="{machine}" data-state="(\w+)"><td>\w+</td><td class="num">(\d+)</td>',
        html)}


def test_the_overview_as_of_an_instant_counts_from_the_transitions(gw: ThreadGateway) -> None:
    email, password = operator(gw.settings, "viewer")
    http = sign_in(gw, email, password)
    client = gw.client.__class__(gw.url, {"X-Api-Key": TEST_MERCHANT["api_key"],
                                          "X-Api-Secret": TEST_MERCHANT["api_secret"]})
    before = datetime.now(UTC)
    page = http.get(gw.url + "/ops", params={"as_of": before.isoformat()}, timeout=10)
    assert page.status_code == 200 and 'data-as-of="' in page.text
    then = state_counts(page.text, "payment")
    payment = client.upi_payment(client.order()["id"])
    wait_until(lambda: client.get(f"/api/v1/payments/{payment['id']}").json()["status"]
               == "success", 10, 0.05, "the payment's success")
    after = datetime.now(UTC)
    # As of before the payment: unchanged by it; as of after it: one more success.
    again = state_counts(http.get(gw.url + "/ops", params={"as_of": before.isoformat()},
                                  timeout=10).text, "payment")
    later = state_counts(http.get(gw.url + "/ops", params={"as_of": after.isoformat()},
                                  timeout=10).text, "payment")
    assert again == then
    assert later.get("success", 0) == then.get("success", 0) + 1
    # A datetime-local value (no offset) is read as UTC; a malformed one is a 400.
    local = before.replace(tzinfo=None).isoformat(timespec="seconds")
    assert http.get(gw.url + "/ops", params={"as_of": local}, timeout=10).status_code == 200
    assert http.get(gw.url + "/ops", params={"as_of": "noon"}, timeout=10).status_code == 400
