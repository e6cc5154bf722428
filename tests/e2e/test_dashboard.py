"""The operator dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright): login and logout, every page's data-test-ids, a payment moving live in the state
views, the retry button, the anonymous redirect and a forged cross-site POST.

One gateway (in a thread) serves the whole module. Payments settle after 2.5 s, so a test can
see them pending first; webhook retries are immediate (schedule 0, 0, 0, 0, 0), so a failing
delivery reaches ``failed`` in well under a second. Each test signs in as a merchant of its own.

``PAYSTATE_DASHBOARD_SCREENSHOTS=docs/images`` saves a screenshot of every page there.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import psycopg
import pytest

from paystate.config import Settings
from paystate.engine.secrets_hash import hash_password
from paystate.testing import WebhookReceiver
from tests.support import ROOT, Client, ThreadGateway, make_settings, wait_until
from tests.webhooks_support import new_merchant, retire_deliveries

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("PAYSTATE_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("PAYSTATE_DASHBOARD_SCREENSHOTS", "")
PASSWORD = "operator-pass-1"
#: Deadline for anything the browser waits for (DOM conditions, never bare sleeps).
WAIT_MS = 15_000

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")


@dataclass(frozen=True)
class FastRetrySettings(Settings):
    """Webhook attempts back to back: five failures take milliseconds, not 2 h 36 min."""

    @property
    def webhook_retry_schedule_s(self) -> tuple[int, ...]:
        return (0, 0, 0, 0, 0)


@dataclass
class Operator:
    merchant_id: str
    email: str
    api: Client


def new_operator(settings: Settings, base_url: str, webhook_url: str | None = None) -> Operator:
    """A merchant of its own with a dashboard password (the seeded one is shared by all tests)."""
    merchant_id, api = new_merchant(settings, base_url, webhook_url=webhook_url)
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("UPDATE merchants SET password_hash = %s WHERE id = %s RETURNING email",
                           (hash_password(PASSWORD), merchant_id)).fetchone()
    assert row is not None
    return Operator(merchant_id, row[0], api)


@pytest.fixture(scope="module")
def dash_settings(base_settings: Settings) -> Settings:
    s = make_settings(test_processing_delay_ms=2500, dashboard_login_rate_limit="1000/minute")
    return FastRetrySettings(**{f.name: getattr(s, f.name) for f in fields(s)})


@pytest.fixture(scope="module")
def gw(dash_settings: Settings) -> Iterator[ThreadGateway]:
    with ThreadGateway(dash_settings) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, gw: ThreadGateway) -> Iterator[Any]:
    context = browser.new_context(base_url=gw.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def login(page: Any, email: str, password: str = PASSWORD, *, path: str = "/login",
          lands: str = "**/dashboard") -> None:
    """Sign in through the form at ``path`` (the operator console's is ``/ops/login``)."""
    page.goto(path)
    page.fill("[data-test-id=email-input]", email)
    page.fill("[data-test-id=password-input]", password)
    page.click("[data-test-id=login-button]")
    page.wait_for_url(lands)


def shot(page: Any, name: str, *, prefix: str = "dashboard", folder: str = SHOTS) -> None:
    """Save ``{prefix}-{name}.png`` into ``folder`` (a screenshots setting), if one is set."""
    if folder:
        target = os.path.join(ROOT, folder)
        os.makedirs(target, exist_ok=True)
        page.screenshot(path=os.path.join(target, f"{prefix}-{name}.png"), full_page=True)


def visible(page: Any, test_id: str) -> Any:
    locator = page.locator(f"[data-test-id={test_id}]").first
    sync_api.expect(locator).to_be_visible()
    return locator


# -- login ------------------------------------------------------------------------------------

def test_login_wrong_password_then_right_then_logout(page: Any, gw: ThreadGateway,
                                                      dash_settings: Settings) -> None:
    page.goto("/login")
    for test_id in ("login-form", "email-input", "password-input", "login-button"):
        visible(page, test_id)
    shot(page, "login")
    page.fill("[data-test-id=email-input]", "test@example.com")
    page.fill("[data-test-id=password-input]", "not-the-password")
    started = time.monotonic()
    page.click("[data-test-id=login-button]")
    sync_api.expect(page.locator("[data-test-id=login-error]")).to_have_text(
        "Invalid email or password.")
    assert time.monotonic() - started >= 0.5
    assert page.context.cookies() and not any(
        c["name"] == "paystate_session" for c in page.context.cookies())

    login(page, "test@example.com", dash_settings.test_merchant_password)
    session = next(c for c in page.context.cookies() if c["name"] == "paystate_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    # Cookie dates have whole seconds: allow for the rounding.
    assert 0 < session["expires"] - time.time() <= dash_settings.dashboard_session_hours * 3600 + 2
    sync_api.expect(page.locator("[data-test-id=api-key]")).to_have_text("key_test_abc123")
    # The seeded merchant's secret is public and still valid, so it is shown in full.
    sync_api.expect(page.locator("[data-test-id=api-secret]")).to_have_text("secret_test_xyz789")

    page.click("[data-test-id=logout-button]")
    page.wait_for_url("**/login?logged_out=1")
    visible(page, "logout-message")
    page.goto("/dashboard/webhooks")
    page.wait_for_url("**/login?next=/dashboard/webhooks")


def test_an_anonymous_visitor_is_sent_to_login(page: Any, gw: ThreadGateway) -> None:
    for path in ("/dashboard", "/dashboard/transactions", "/dashboard/webhooks",
                 "/dashboard/docs", "/dashboard/states", "/dashboard/states/payment/pay_x"):
        page.goto(path)
        page.wait_for_url(f"**/login?next={path}")
        visible(page, "login-form")
    # Data calls answer 401 in the contract's envelope instead.
    for path in ("/dashboard/api/states", "/dashboard/events",
                 "/dashboard/api/timeline/payment/pay_x"):
        response = page.request.get(path)
        assert response.status == 401
        assert response.json()["error"]["code"] == "AUTHENTICATION_ERROR"


# -- pages ------------------------------------------------------------------------------------

def test_every_page_shows_its_test_ids(page: Any, gw: ThreadGateway, dash_settings: Settings,
                                       paystate_webhook_receiver: WebhookReceiver) -> None:
    op = new_operator(dash_settings, gw.url, webhook_url=paystate_webhook_receiver.url)
    try:
        paid = [op.api.upi_payment(op.api.order(amount)["id"])["id"] for amount in (50000, 12345)]
        for payment_id in paid:
            op.api.wait_payment(payment_id)
        login(page, op.email)

        for test_id in ("api-credentials", "api-key", "api-secret", "stats-container",
                        "total-transactions", "total-amount", "success-rate", "payments-chart"):
            visible(page, test_id)
        sync_api.expect(page.locator("[data-test-id=total-transactions]")).to_have_text("2")
        sync_api.expect(page.locator("[data-test-id=total-amount]")).to_have_text("\u20b9623.45")
        sync_api.expect(page.locator("[data-test-id=success-rate]")).to_have_text("100.0%")
        # Another merchant's secret is stored hashed: shown masked, and said so.
        assert page.locator("[data-test-id=api-secret]").get_attribute("data-masked") == "true"
        assert page.locator(".minute-chart rect.bar-success").count() >= 1
        shot(page, "home")

        page.goto("/dashboard/transactions")
        visible(page, "transactions-table")
        rows = page.locator("tr[data-test-id=transaction-row][data-payment-id]")
        sync_api.expect(rows).to_have_count(2)
        for test_id in ("payment-id", "order-id", "amount", "method", "status", "created-at"):
            sync_api.expect(rows.first.locator(f"[data-test-id={test_id}]")).to_be_visible()
        shot(page, "transactions")

        page.goto("/dashboard/webhooks")
        for test_id in ("webhook-config", "webhook-config-form", "webhook-url-input",
                        "webhook-secret", "regenerate-secret-button", "save-webhook-button",
                        "test-webhook-button", "webhook-logs-table"):
            visible(page, test_id)
        items = page.locator("tr[data-test-id=webhook-log-item][data-webhook-id]")
        sync_api.expect(items.first).to_be_visible()
        for test_id in ("webhook-event", "webhook-status", "webhook-attempts",
                        "webhook-last-attempt", "webhook-response-code",
                        "retry-webhook-button"):
            sync_api.expect(items.first.locator(f"[data-test-id={test_id}]")).to_be_visible()
        shot(page, "webhooks")

        page.goto("/dashboard/docs")
        for test_id in ("api-docs", "section-create-order", "code-snippet-create-order",
                        "section-sdk-integration", "code-snippet-sdk",
                        "section-webhook-verification", "code-snippet-webhook",
                        "code-snippet-webhook-node", "code-snippet-webhook-standard-python",
                        "code-snippet-webhook-standard-node"):
            visible(page, test_id)
        sync_api.expect(page.locator("[data-test-id=code-snippet-create-order]")).to_contain_text(
            op.api.auth["X-Api-Key"])
        sync_api.expect(page.locator("[data-test-id=code-snippet-webhook]")).to_contain_text(
            "hexdigest")
        shot(page, "docs")

        page.goto("/dashboard/states")
        for machine in ("payment", "refund", "webhook_delivery"):
            visible(page, f"machine-{machine}")
        sync_api.expect(page.locator("[data-test-id=live-status]")).to_have_attribute(
            "data-state", "live")
        success = page.locator("[data-machine=payment] [data-count-for=success]")
        sync_api.expect(success).to_have_text("2")
        shot(page, "states")
    finally:
        retire_deliveries(dash_settings, op.merchant_id)


def test_transactions_filter_by_status_and_search_by_id(page: Any, gw: ThreadGateway,
                                                        dash_settings: Settings) -> None:
    op = new_operator(dash_settings, gw.url)
    orders = [op.api.order()["id"] for _ in range(3)]
    payments = [op.api.upi_payment(order_id)["id"] for order_id in orders]
    op.api.wait_payment(payments[0])
    login(page, op.email)
    page.goto("/dashboard/transactions")
    rows = page.locator("tr[data-test-id=transaction-row]")
    sync_api.expect(rows).to_have_count(3)
    page.fill("[data-test-id=search-input]", orders[1])
    page.click("[data-test-id=search-button]")
    sync_api.expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-payment-id") == payments[1]
    page.goto(f"/dashboard/transactions?q={payments[2]}")
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first.locator("[data-test-id=order-id]")).to_have_text(orders[2])
    page.goto("/dashboard/transactions?status=failed")
    sync_api.expect(page.locator("tr.empty")).to_be_visible()


# -- live -------------------------------------------------------------------------------------

def test_a_payment_made_through_the_api_moves_live_in_the_state_views(
        page: Any, browser: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = new_operator(dash_settings, gw.url)
    login(page, op.email)
    page.goto("/dashboard/states")
    counts = page.locator("[data-machine=payment]")
    sync_api.expect(page.locator("[data-test-id=live-status]")).to_have_attribute(
        "data-state", "live")
    sync_api.expect(counts.locator("[data-count-for=pending]")).to_have_text("0")
    page.evaluate("window.__notReloaded = true")

    payment = op.api.upi_payment(op.api.order(77700)["id"])
    assert payment["status"] == "pending"
    # A second tab on the payment's own page, opened while it is still pending.
    detail = page.context.new_page()
    detail.goto(f"/dashboard/states/payment/{payment['id']}")
    detail.evaluate("window.__notReloaded = true")
    sync_api.expect(detail.locator("[data-test-id=object-state]")).to_have_text("pending")
    sync_api.expect(counts.locator("[data-count-for=pending]")).to_have_text("1")
    sync_api.expect(page.locator(f"[data-test-id=live-feed-item][data-object-id="
                                 f"\"{payment['id']}\"]").first).to_be_visible()

    # The processor settles it 2.5 s after creation; both pages follow without a reload.
    sync_api.expect(counts.locator("[data-count-for=success]")).to_have_text("1")
    sync_api.expect(counts.locator("[data-count-for=pending]")).to_have_text("0")
    sync_api.expect(detail.locator("[data-test-id=object-state]")).to_have_text("success")
    sync_api.expect(detail.locator("[data-test-id=transition-row]")).to_have_count(2)
    sync_api.expect(detail.locator("[data-test-id=transition-trigger]").last).to_have_text(
        "succeed")
    assert page.evaluate("window.__notReloaded") is True
    assert detail.evaluate("window.__notReloaded") is True
    sync_api.expect(detail.locator("g.state.current")).to_have_attribute("data-state", "success")
    shot(detail, "state-payment")

    # A refund of it: the refund machine's counts and its own page follow it to processed.
    r = op.api.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 700})
    assert r.status_code == 201, r.text
    refund = r.json()
    refunds = page.locator("[data-machine=refund]")
    sync_api.expect(refunds.locator("[data-count-for=pending]")).to_have_text("1")
    detail.goto(f"/dashboard/states/refund/{refund['id']}")
    sync_api.expect(detail.locator("[data-test-id=object-state]")).to_have_text("processed")
    sync_api.expect(refunds.locator("[data-count-for=processed]")).to_have_text("1")
    sync_api.expect(refunds.locator("[data-count-for=pending]")).to_have_text("0")
    assert page.evaluate("window.__notReloaded") is True

    # The transactions table lists it and links to its page, which links to the same timeline.
    page.goto("/dashboard/transactions")
    row = page.locator(f"tr[data-test-id=transaction-row][data-payment-id=\"{payment['id']}\"]")
    sync_api.expect(row.locator("[data-test-id=status]")).to_contain_text("success")
    sync_api.expect(row.locator("[data-test-id=amount]")).to_have_text("\u20b9777.00")
    row.locator("[data-test-id=payment-id] a").click()
    page.wait_for_url(f"**/dashboard/payments/{payment['id']}")
    page.locator("[data-test-id=payment-timeline]").click()
    page.wait_for_url(f"**/dashboard/states/payment/{payment['id']}")


def test_the_retry_button_retries_a_failed_delivery(
        page: Any, gw: ThreadGateway, dash_settings: Settings,
        paystate_webhook_receiver: WebhookReceiver) -> None:
    paystate_webhook_receiver.respond_with(503)
    op = new_operator(dash_settings, gw.url)
    try:
        login(page, op.email)
        page.goto("/dashboard/webhooks")
        page.fill("[data-test-id=webhook-url-input]", paystate_webhook_receiver.url)
        page.click("[data-test-id=save-webhook-button]")
        sync_api.expect(page.locator("[data-test-id=webhook-notice]")).to_contain_text("saved")
        sync_api.expect(page.locator("[data-test-id=webhook-url-input]")).to_have_value(
            paystate_webhook_receiver.url)

        old_secret = page.locator("[data-test-id=webhook-secret]").inner_text()
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("[data-test-id=regenerate-secret-button]")
        sync_api.expect(page.locator("[data-test-id=webhook-notice]")).to_contain_text("secret")
        new_secret = page.locator("[data-test-id=webhook-secret]").inner_text()
        assert new_secret != old_secret and new_secret.startswith("whsec_")

        page.click("[data-test-id=test-webhook-button]")
        item = page.locator("tr[data-test-id=webhook-log-item]").first
        sync_api.expect(item.locator("[data-test-id=webhook-event]")).to_have_text("webhook.test")
        delivery_id = item.get_attribute("data-webhook-id")

        def failed() -> bool:
            page.goto("/dashboard/webhooks")
            return item.locator("[data-test-id=webhook-status]").inner_text() == "failed"
        wait_until(failed, 15, 0.2, "the delivery to fail five times")
        sync_api.expect(item.locator("[data-test-id=webhook-attempts]")).to_have_text("5")
        sync_api.expect(item.locator("[data-test-id=webhook-response-code]")).to_have_text("503")
        log = page.locator("tr[data-test-id=webhook-attempt-log]"
                           f"[data-webhook-id=\"{delivery_id}\"]")
        log.locator("summary", has_text="Attempt log").click()
        sync_api.expect(log.locator("[data-test-id=webhook-attempt]")).to_have_count(5)
        assert len(paystate_webhook_receiver.for_delivery(str(delivery_id))) == 5

        paystate_webhook_receiver.respond_with(200)
        item.locator("[data-test-id=retry-webhook-button]").click()
        sync_api.expect(page.locator("[data-test-id=webhook-notice]")).to_contain_text("Retry")

        def succeeded() -> bool:
            page.goto("/dashboard/webhooks")
            return item.locator("[data-test-id=webhook-status]").inner_text() == "success"
        wait_until(succeeded, 15, 0.2, "the retried delivery to succeed")
        sync_api.expect(item.locator("[data-test-id=webhook-attempts]")).to_have_text("1")
        sync_api.expect(item.locator("[data-test-id=webhook-response-code]")).to_have_text("200")
        assert paystate_webhook_receiver.for_delivery(str(delivery_id))[-1].verify(new_secret)

        # Its timeline: create, four fail_attempt, give_up, retry, succeed.
        item.locator("[data-test-id=webhook-event] a").click()
        page.wait_for_url(f"**/dashboard/states/delivery/{delivery_id}")
        triggers = page.locator("[data-test-id=transition-trigger]")
        sync_api.expect(triggers).to_have_count(8)
        assert triggers.all_inner_texts() == ["create"] + ["fail_attempt"] * 4 + [
            "give_up", "retry", "succeed"]
        sync_api.expect(page.locator("[data-test-id=object-status]")).to_have_text("success")
        shot(page, "state-delivery")
    finally:
        retire_deliveries(dash_settings, op.merchant_id)


# -- forgery ----------------------------------------------------------------------------------

def test_a_forged_cross_site_post_without_the_xsrf_token_is_refused(
        page: Any, browser: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = new_operator(dash_settings, gw.url)
    login(page, op.email)
    page.goto("/dashboard/webhooks")
    secret = page.locator("[data-test-id=webhook-secret]").inner_text()

    # The session cookie goes along (same context) but no XSRF token: refused.
    forged = page.request.post("/dashboard/webhooks/secret", form={"x": "1"})
    assert forged.status == 403
    forged = page.request.post("/dashboard/webhooks", form={"webhook_url": "https://evil.test/"})
    assert forged.status == 403
    # A token from another browser (its own _xsrf cookie) does not match this one's cookie.
    other = browser.new_context(base_url=gw.url)
    other_page = other.new_page()
    other_page.goto("/login")
    token = other_page.locator("meta[name=xsrf-token]").get_attribute("content")
    other.close()
    forged = page.request.post("/dashboard/webhooks/secret", form={"_xsrf": token})
    assert forged.status == 403

    # A page on another origin that auto-submits a form to the dashboard.
    attacker = f"http://localhost:{gw.port}/"
    page.route(attacker + "attack", lambda route: route.fulfill(
        content_type="text/html", body=(
            f'<form id="f" method="post" action="{gw.url}/dashboard/webhooks/secret">'
            '</form><script>document.getElementById("f").submit()</script>')))
    with page.expect_navigation():
        page.goto(attacker + "attack", wait_until="commit")
    page.goto(f"{gw.url}/dashboard/webhooks")
    sync_api.expect(page.locator("[data-test-id=webhook-secret]")).to_have_text(secret)
    sync_api.expect(page.locator("[data-test-id=webhook-url-input]")).to_have_value("")
    with psycopg.connect(dash_settings.database_url) as conn:
        row = conn.execute("SELECT webhook_secret FROM merchants WHERE id = %s",
                           (op.merchant_id,)).fetchone()
        endpoints = conn.execute("SELECT count(*) FROM webhook_endpoints WHERE merchant_id = %s",
                                 (op.merchant_id,)).fetchone()
    assert (row, endpoints) == ((secret,), (0,))


def test_a_tampered_or_foreign_session_cookie_is_not_a_session(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = new_operator(dash_settings, gw.url)
    login(page, op.email)
    cookie = next(c for c in page.context.cookies() if c["name"] == "paystate_session")
    page.context.clear_cookies()
    # Change the token's first character to one it surely is not (a fixed replacement of
    # its tail left it unchanged once in 4,096 runs, and the test failed for that).
    value = cookie["value"]
    tampered = ("B" if value[0] == "A" else "A") + value[1:]
    page.context.add_cookies([{**cookie, "value": tampered}])
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")
    # A password change ends the sessions signed before it.
    page.context.add_cookies([cookie])
    page.goto("/dashboard")
    page.wait_for_url("**/dashboard")
    with psycopg.connect(dash_settings.database_url) as conn:
        conn.execute("UPDATE merchants SET password_hash = %s WHERE id = %s",
                     (hash_password("changed-" + uuid.uuid4().hex), op.merchant_id))
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")


# -- modes ------------------------------------------------------------------------------------

def test_the_mode_switch_shows_one_mode_and_the_roll_button_rolls_its_secret(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = new_operator(dash_settings, gw.url)
    test_payment = op.api.upi_payment(op.api.order()["id"])["id"]
    # The merchant's first live key (made by a roll, as for merchants from before modes).
    rolled = op.api.post("/api/v1/merchant/keys/roll", {"mode": "live"})
    assert rolled.status_code == 200, rolled.text
    live = Client(gw.url, {"X-Api-Key": rolled.json()["api_key"],
                           "X-Api-Secret": rolled.json()["api_secret"]})
    live_payment = live.upi_payment(live.order()["id"])["id"]

    login(page, op.email)
    page.goto("/dashboard/transactions")
    rows = page.locator("tr[data-test-id=transaction-row]")
    sync_api.expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-payment-id") == test_payment
    assert visible(page, "mode-switch").get_attribute("data-mode") == "test"
    page.click("[data-test-id=mode-live]")
    sync_api.expect(page.locator("[data-test-id=mode-switch]")).to_have_attribute(
        "data-mode", "live")
    sync_api.expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-payment-id") == live_payment
    page.goto("/dashboard/transactions")  # the choice is remembered
    sync_api.expect(rows.first).to_have_attribute("data-payment-id", live_payment)

    # The roll button rolls the shown mode's secret, the old one expiring at once here.
    page.goto("/dashboard")
    page.fill("[data-test-id=roll-expiry-input]", "0")
    page.click("[data-test-id=roll-key-button]")
    page.wait_for_load_state()
    wait_until(lambda: live.get("/api/v1/payments").status_code == 401, 5, 0.05,
               "the rolled live secret to stop working")
    assert op.api.get("/api/v1/payments").status_code == 200  # the test key is untouched

    page.goto("/dashboard/docs")
    assert "success@paystate" in visible(page, "code-snippet-modes").inner_text()
