"""The operator console in real headless Chromium: sign-in (a wrong password refused, the rate
limit), the overview's sections filled and kept live over SSE, the merchant search, a suspension
from the console that the merchant's API key then feels (403 ACCOUNT_SUSPENDED) and that the
audit page shows, a viewer's suspension refused (403), cookies apart from the dashboard's both
ways, and every page at 375 px without sideways scrolling.

``PAYSTATE_OPS_SCREENSHOTS=docs/images`` saves the README's screenshots of /ops, /ops/merchants
and /ops/audit there.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from paystate.config import Settings
from paystate.engine.operators import DEMO_OPERATOR, create_operator
from tests.e2e.test_dashboard import browser, visible
from tests.e2e.test_dashboard import login as dashboard_login
from tests.e2e.test_dashboard import shot as dashboard_shot
from tests.support import AUTH, Client, ThreadGateway, make_settings

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("PAYSTATE_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("PAYSTATE_OPS_SCREENSHOTS", "")
WAIT_MS = 15_000
ADMIN_TOKEN = DEMO_OPERATOR["token"]

__all__ = ["browser"]  # the dashboard tests' module-scoped Chromium, one per module

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")


@pytest.fixture(scope="module")
def gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    with ThreadGateway(make_settings(dashboard_login_rate_limit="1000/minute")) as gateway:
        yield gateway


def new_context(browser: Any, gw: ThreadGateway, width: int = 1280) -> Any:
    context = browser.new_context(base_url=gw.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(WAIT_MS)
    return context


@pytest.fixture
def page(browser: Any, gw: ThreadGateway) -> Iterator[Any]:
    context = new_context(browser, gw)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def new_operator(gw: ThreadGateway, role: str) -> tuple[str, str]:
    made = create_operator(gw.settings.database_url,
                           f"{role}-{uuid.uuid4().hex[:8]}@example.com", role, datetime.now(UTC))
    return made["email"], made["password"]


def new_merchant(gw: ThreadGateway, name: str) -> dict[str, Any]:
    made = requests.post(gw.url + "/admin/v1/merchants", timeout=30,
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                         json={"name": name, "email": f"{uuid.uuid4().hex[:8]}@example.com"})
    assert made.status_code == 201, made.text
    account: dict[str, Any] = made.json()
    return account


def login(page: Any, email: str, password: str) -> None:
    dashboard_login(page, email, password, path="/ops/login", lands="**/ops")


def shot(page: Any, name: str) -> None:
    dashboard_shot(page, name, prefix="ops", folder=SHOTS)


def test_login_refuses_a_wrong_password_and_shows_the_overview(page: Any,
                                                               gw: ThreadGateway) -> None:
    email, password = new_operator(gw, "admin")
    page.goto("/ops")
    page.wait_for_url("**/ops/login?next=/ops")
    for test_id in ("ops-login-form", "email-input", "password-input", "login-button"):
        visible(page, test_id)
    page.fill("[data-test-id=email-input]", email)
    page.fill("[data-test-id=password-input]", "not-the-password")
    page.click("[data-test-id=login-button]")
    sync_api.expect(page.locator("[data-test-id=login-error]")).to_have_text(
        "Invalid email or password.")
    login(page, email, password)
    cookie = next(c for c in page.context.cookies() if c["name"] == "paystate_ops_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    for test_id in ("ops-overview", "state-counts", "stuck-work", "workers", "streams"):
        visible(page, test_id)
    # A payment made now shows up in the counts without a reload (server-sent events).
    api = Client(gw.url, AUTH)
    counted = page.locator("[data-test-id=state-count][data-machine=payment]")
    before_n = sum(int(t.split()[-1]) for t in counted.all_inner_texts())
    for _ in range(3):
        api.upi_payment(api.order()["id"])
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-test-id=state-count][data-machine=payment]')]"
        ".reduce((s, r) => s + Number(r.lastElementChild.textContent), 0) >= n",
        arg=before_n + 3)
    # The worker beats and made its consumer groups; the stream keeps the figures live.
    sync_api.expect(page.locator("[data-test-id=live-status]")).to_have_text("live")
    visible(page, "worker-row")
    visible(page, "stream-row")
    before = page.locator("[data-test-id=overview-at]").inner_text()
    sync_api.expect(page.locator("[data-test-id=overview-at]")).not_to_have_text(before)
    sync_api.expect(page.locator("[data-test-id=health-postgres]")).to_have_attribute(
        "data-ok", "true")
    shot(page, "overview")
    page.click("[data-test-id=logout-button]")
    page.wait_for_url("**/ops/login?logged_out=1")


def test_sign_in_is_rate_limited(browser: Any, base_settings: Settings) -> None:
    with ThreadGateway(make_settings(dashboard_login_rate_limit="3/minute")) as limited:
        email, password = new_operator(limited, "viewer")
        context = new_context(browser, limited)
        page = context.new_page()
        for _ in range(3):
            page.goto("/ops/login")
            page.fill("[data-test-id=email-input]", email)
            page.fill("[data-test-id=password-input]", "wrong")
            page.click("[data-test-id=login-button]")
            visible(page, "login-error")
        page.goto("/ops/login")
        page.fill("[data-test-id=email-input]", email)
        page.fill("[data-test-id=password-input]", password)
        page.click("[data-test-id=login-button]")
        sync_api.expect(page.locator("[data-test-id=login-error]")).to_contain_text(
            "Too many sign-in attempts")
        context.close()


def test_search_suspend_and_the_audit_page(page: Any, gw: ThreadGateway) -> None:
    tag = uuid.uuid4().hex[:8]
    merchant = new_merchant(gw, f"Searchable {tag}")
    keys = merchant["keys"]["test"]
    auth = {"X-Api-Key": keys["api_key"], "X-Api-Secret": keys["api_secret"]}
    email, password = new_operator(gw, "admin")
    login(page, email, password)
    page.goto("/ops/merchants")
    visible(page, "merchant-search")
    page.fill("[data-test-id=merchant-search-input]", f"searchable {tag}")
    page.click("[data-test-id=merchant-search-button]")
    rows = page.locator("tr[data-test-id=merchant-row]")
    sync_api.expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-merchant-id") == merchant["id"]
    sync_api.expect(rows.first.locator("[data-test-id=merchant-status]")).to_have_text("active")
    # An id prefix finds it too.
    page.goto(f"/ops/merchants?q={merchant['id'][:8]}")
    sync_api.expect(page.locator(
        f"tr[data-test-id=merchant-row][data-merchant-id='{merchant['id']}']")).to_have_count(1)
    page.goto(f"/ops/merchants?q=Searchable%20{tag}")
    shot(page, "merchants")
    rows.first.locator("[data-test-id=merchant-name] a").click()
    page.wait_for_url(f"**/ops/merchants/{merchant['id']}")
    visible(page, "endpoints-table")
    assert requests.get(gw.url + "/api/v1/payments/pay_none", headers=auth,
                        timeout=10).status_code == 404
    page.click("[data-test-id=suspend-button]")
    sync_api.expect(page.locator("[data-test-id=merchant-status]")).to_have_text("suspended")
    visible(page, "reinstate-button")
    refused = requests.get(gw.url + "/api/v1/payments/pay_none", headers=auth, timeout=10)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "ACCOUNT_SUSPENDED"
    page.goto("/ops/audit")
    visible(page, "audit-table")
    first = page.locator("tr[data-test-id=audit-row]").first
    sync_api.expect(first.locator("[data-test-id=audit-action]")).to_have_text(
        "merchant.suspend")
    sync_api.expect(first.locator("[data-test-id=audit-actor]")).to_contain_text(email)
    sync_api.expect(first.locator("[data-test-id=audit-target]")).to_have_text(
        f"merchant:{merchant['id']}")
    shot(page, "audit")


def test_a_viewer_cannot_suspend(page: Any, gw: ThreadGateway) -> None:
    merchant = new_merchant(gw, "Viewed")
    email, password = new_operator(gw, "viewer")
    login(page, email, password)
    page.goto(f"/ops/merchants/{merchant['id']}")
    with page.expect_response(lambda r: r.url.endswith("/suspend")) as answer:
        page.click("[data-test-id=suspend-button]")
    assert answer.value.status == 403
    page.goto(f"/ops/merchants/{merchant['id']}")
    sync_api.expect(page.locator("[data-test-id=merchant-status]")).to_have_text("active")


def test_cookies_are_apart_from_the_dashboards_both_ways(browser: Any,
                                                         gw: ThreadGateway) -> None:
    context = new_context(browser, gw)
    page = context.new_page()
    page.goto("/login")
    page.fill("[data-test-id=email-input]", "test@example.com")
    page.fill("[data-test-id=password-input]", gw.settings.test_merchant_password)
    page.click("[data-test-id=login-button]")
    page.wait_for_url("**/dashboard")
    page.goto("/ops")
    page.wait_for_url("**/ops/login?next=/ops")
    # The dashboard's session under the console's cookie name opens nothing either.
    dash = next(c for c in context.cookies() if c["name"] == "paystate_session")
    context.add_cookies([{**dash, "name": "paystate_ops_session"}])
    page.goto("/ops")
    page.wait_for_url("**/ops/login?next=/ops")
    context.close()

    context = new_context(browser, gw)
    page = context.new_page()
    login(page, DEMO_OPERATOR["email"], gw.settings.test_operator_password)
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")
    ops = next(c for c in context.cookies() if c["name"] == "paystate_ops_session")
    context.add_cookies([{**ops, "name": "paystate_session"}])
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")
    context.close()


def test_every_page_fits_375_px(browser: Any, gw: ThreadGateway) -> None:
    merchant = new_merchant(gw, "Narrow")
    context = new_context(browser, gw, width=375)
    page = context.new_page()
    page.goto("/ops/login")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    login(page, DEMO_OPERATOR["email"], gw.settings.test_operator_password)
    for path in ("/ops", "/ops/merchants", f"/ops/merchants/{merchant['id']}", "/ops/audit"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    context.close()
