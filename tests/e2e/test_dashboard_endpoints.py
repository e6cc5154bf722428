"""The webhooks page's Endpoints section in real headless Chromium: add (with a subset of events)
and find the endpoint in the API's list with the same fields, edit, disable and enable, delete
through its confirm step, roll a secret (the API's next test delivery carries both signatures),
send a test event, recover failed deliveries, refusals shown in the page and changing nothing,
and the page at 375 px without sideways scrolling.

``PAYSTATE_DASHBOARD_SCREENSHOTS=docs/images`` saves the page with two endpoints there
(``dashboard-webhook-endpoints.png``), as test_dashboard.py does for the other pages.
"""

# test_dashboard.py's fixtures (a module-scoped gateway and Chromium, a page per test) are
# imported, so made once more for this module; pyflakes takes their uses for redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from paystate.config import Settings
from paystate.testing import WebhookReceiver
from tests.e2e.test_dashboard import (  # noqa: F401 (fixtures)
    Operator,
    browser,
    dash_settings,
    gw,
    login,
    new_operator,
    page,
    shot,
    sync_api,
    visible,
)
from tests.support import Client, ThreadGateway, wait_until
from tests.webhooks_support import retire_deliveries

expect = sync_api.expect


def on_the_webhooks_page(page: Any, gw: ThreadGateway, settings: Settings,
                         webhook_url: str | None = None) -> Operator:
    """A merchant of its own, signed in, on /dashboard/webhooks."""
    op = new_operator(settings, gw.url, webhook_url=webhook_url)
    login(page, op.email)
    page.goto("/dashboard/webhooks")
    return op


def tid(name: str) -> str:
    return f"[data-test-id={name}]"


def row(page: Any, endpoint_id: str) -> Any:
    return page.locator(f"tr{tid('endpoint-row')}[data-endpoint-id=\"{endpoint_id}\"]")


def panel(page: Any, endpoint_id: str) -> Any:
    """The endpoint's Manage panel, opened."""
    details = page.locator(f"details{tid('endpoint-manage')}[data-endpoint-id=\"{endpoint_id}\"]")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details


def listed(api: Client) -> list[dict[str, Any]]:
    answer = api.get("/api/v1/webhook_endpoints")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def add_form(page: Any) -> Any:
    """The add form of a freshly loaded page, opened."""
    page.goto("/dashboard/webhooks")
    add = page.locator(tid("add-endpoint"))
    if add.get_attribute("open") is None:
        add.locator("summary").click()
    return page.locator(tid("add-endpoint-form"))


def add_endpoint(page: Any, url: str, events: list[str] | None = None,
                 description: str = "") -> tuple[str, str]:
    """Fill and send the add form (``events`` None: all events); the new endpoint's id and the
    secret the page shows once."""
    form = add_form(page)
    form.locator(tid("endpoint-url-input")).fill(url)
    form.locator(tid("endpoint-description-input")).fill(description)
    form.locator(tid("endpoint-format-select")).select_option("paystate")
    if events is not None:
        form.locator(tid("endpoint-all-events-checkbox")).uncheck()
        for name in events:
            form.locator(f"fieldset[data-format=paystate] input[value=\"{name}\"]").check()
    form.locator(tid("add-endpoint-button")).click()
    expect(page.locator(tid("endpoint-notice"))).to_have_text("Endpoint added.")
    reveal = visible(page, "endpoint-secret-reveal")
    secret = reveal.locator(tid("endpoint-new-secret")).inner_text()
    assert secret.startswith("whsec_")
    return str(reveal.get_attribute("data-endpoint-id")), secret


def test_add_edit_disable_enable_and_delete_through_the_same_operations_as_the_api(
        page: Any, gw: ThreadGateway, dash_settings: Settings,
        paystate_webhook_receiver: WebhookReceiver) -> None:
    op = on_the_webhooks_page(page, gw, dash_settings)
    expect(page.locator(tid("endpoints-empty"))).to_be_visible()

    endpoint_id, secret = add_endpoint(page, paystate_webhook_receiver.url,
                                       ["payment.success", "refund.processed"], "fulfilment")
    [made] = listed(op.api)
    assert (made["id"], made["url"], made["enabled_events"], made["description"],
            made["format"], made["status"], made["default"], made["livemode"]) == (
        endpoint_id, paystate_webhook_receiver.url, ["payment.success", "refund.processed"],
        "fulfilment", "paystate", "enabled", False, False)
    shown = row(page, endpoint_id)
    expect(shown.locator(tid("endpoint-url"))).to_have_text(made["url"])
    expect(shown.locator(tid("endpoint-description"))).to_have_text("fulfilment")
    expect(shown.locator(tid("endpoint-events"))).to_have_text(
        "payment.success, refund.processed")
    expect(shown.locator(tid("endpoint-format"))).to_have_text("paystate")
    expect(shown.locator(tid("endpoint-status"))).to_have_text("enabled")
    expect(shown.locator(tid("endpoint-success-rate"))).to_have_text("no deliveries")
    expect(shown.locator(tid("endpoint-default"))).to_have_count(0)
    # The secret shown is the one that signs, and it is shown once only.
    sent = op.api.post(f"/api/v1/webhook_endpoints/{endpoint_id}/test")
    assert sent.json()["status"] == "success", sent.text
    assert paystate_webhook_receiver.requests[-1].verify(secret)
    page.goto("/dashboard/webhooks")
    assert secret not in page.content()
    # The section shows the mode the switch shows: none in live mode.
    page.click(tid("mode-live"))
    expect(page.locator(tid("endpoints-empty"))).to_be_visible()
    page.click(tid("mode-test"))
    expect(shown).to_be_visible()

    # Edit: url, description, events (sent in the page's order).
    edit = panel(page, endpoint_id).locator(tid("edit-endpoint-form"))
    new_url = paystate_webhook_receiver.url + "/v2"
    edit.locator(tid("endpoint-url-input")).fill(new_url)
    edit.locator(tid("endpoint-description-input")).fill("")
    edit.locator("input[value=\"payment.success\"]").uncheck()
    edit.locator("input[value=\"payment.failed\"]").check()
    edit.locator(tid("save-endpoint-button")).click()
    expect(page.locator(tid("endpoint-notice"))).to_have_text("Endpoint saved.")
    [edited] = listed(op.api)
    assert (edited["url"], edited["description"], edited["enabled_events"]) == (
        new_url, None, ["payment.failed", "refund.processed"])
    expect(shown.locator(tid("endpoint-events"))).to_have_text(
        "payment.failed, refund.processed")

    # Disable, then enable.
    panel(page, endpoint_id).locator(tid("disable-endpoint-button")).click()
    expect(page.locator(tid("endpoint-notice"))).to_contain_text("disabled")
    expect(shown.locator(tid("endpoint-status"))).to_have_text("disabled")
    expect(shown.locator(tid("endpoint-disabled-reason"))).to_have_text(
        "Disabled by the merchant")
    assert listed(op.api)[0]["status"] == "disabled"
    panel(page, endpoint_id).locator(tid("enable-endpoint-button")).click()
    expect(page.locator(tid("endpoint-notice"))).to_contain_text("enabled")
    expect(shown.locator(tid("endpoint-status"))).to_have_text("enabled")
    assert (listed(op.api)[0]["status"], listed(op.api)[0]["disabled_reason"]) == (
        "enabled", None)

    # Delete, through its confirm step; cancelling first changes nothing.
    panel(page, endpoint_id).locator(tid("delete-endpoint-link")).click()
    visible(page, "confirm-delete").locator(tid("cancel-delete-link")).click()
    expect(page.locator(tid("confirm-delete"))).to_have_count(0)
    assert len(listed(op.api)) == 1
    panel(page, endpoint_id).locator(tid("delete-endpoint-link")).click()
    expect(page.locator(tid("confirm-delete"))).to_have_attribute("data-endpoint-id",
                                                                   endpoint_id)
    page.locator(tid("confirm-delete-button")).click()
    expect(page.locator(tid("endpoint-notice"))).to_contain_text("deleted")
    expect(page.locator(tid("endpoint-row"))).to_have_count(0)
    assert listed(op.api) == []


def test_roll_shows_a_new_secret_test_shows_its_result_and_recover_its_count(
        page: Any, gw: ThreadGateway, dash_settings: Settings,
        paystate_webhook_receiver: WebhookReceiver) -> None:
    op = on_the_webhooks_page(page, gw, dash_settings)
    try:
        endpoint_id, old = add_endpoint(page, paystate_webhook_receiver.url)

        # Roll, the old secret signing beside the new one for 24 h.
        roll = panel(page, endpoint_id).locator(tid("roll-endpoint-form"))
        expect(roll.locator(tid("endpoint-roll-expiry-input"))).to_have_value("24")
        roll.locator(tid("roll-endpoint-secret-button")).click()
        expect(page.locator(tid("endpoint-notice"))).to_have_text("Signing secret rolled.")
        new = visible(page, "endpoint-new-secret").inner_text()
        assert new.startswith("whsec_") and new != old
        visible(page, "endpoint-previous-expires")
        sent = op.api.post(f"/api/v1/webhook_endpoints/{endpoint_id}/test")
        assert sent.json()["status"] == "success", sent.text
        request = paystate_webhook_receiver.requests[-1]
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        Webhook(old).verify(request.body, request.headers)
        Webhook(new).verify(request.body, request.headers)

        # A test event from the page: its outcome and answer, then the endpoint's health.
        panel(page, endpoint_id).locator(tid("test-endpoint-button")).click()
        result = visible(page, "endpoint-test-result")
        expect(result.locator(tid("endpoint-test-status"))).to_have_text("success")
        expect(result.locator(tid("endpoint-test-response-code"))).to_have_text("200")
        shown = row(page, endpoint_id)
        expect(shown.locator(tid("endpoint-success-rate"))).to_have_text("100.0%")
        expect(shown.locator(tid("endpoint-last-response-code"))).to_have_text("200")

        # Recover: a test event failing five times (retries back to back here)...
        paystate_webhook_receiver.respond_with(503)
        panel(page, endpoint_id).locator(tid("test-endpoint-button")).click()
        result = visible(page, "endpoint-test-result")
        expect(result.locator(tid("endpoint-test-response-code"))).to_have_text("503")
        lost = str(result.get_attribute("data-webhook-id"))
        wait_until(lambda: op.api.get(f"/api/v1/webhooks/{lost}").json()["status"] == "failed",
                   15, 0.1, "the test delivery to fail five times")
        # ...is sent again from the page.
        paystate_webhook_receiver.respond_with(200)
        since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        recover = panel(page, endpoint_id).locator(tid("recover-endpoint-form"))
        recover.locator(tid("endpoint-recover-since-input")).fill(since)
        recover.locator(tid("recover-endpoint-button")).click()
        expect(page.locator(tid("endpoint-recovered-count"))).to_have_text("1")
        wait_until(lambda: op.api.get(f"/api/v1/webhooks/{lost}").json()["status"] == "success",
                   15, 0.1, "the recovered delivery to succeed")
    finally:
        retire_deliveries(dash_settings, op.merchant_id)


def test_refusals_are_shown_in_the_page_and_change_nothing(
        page: Any, gw: ThreadGateway, dash_settings: Settings,
        paystate_webhook_receiver: WebhookReceiver) -> None:
    op = on_the_webhooks_page(page, gw, dash_settings)
    form = page.locator(tid("add-endpoint-form"))
    # The boxes offered are the chosen format's.
    expect(form.locator(tid("endpoint-events-razorpay"))).to_be_hidden()
    form.locator(tid("endpoint-format-select")).select_option("razorpay")
    expect(form.locator(tid("endpoint-events-razorpay"))).to_be_visible()
    expect(form.locator(tid("endpoint-events-paystate"))).to_be_hidden()
    form.locator(tid("endpoint-format-select")).select_option("paystate")
    # A URL the browser takes for one, but the gateway will not call.
    form.locator(tid("endpoint-url-input")).fill("ftp://example.com/webhooks")
    form.locator(tid("endpoint-description-input")).fill("kept")
    with page.expect_response("**/dashboard/webhooks/endpoints") as answer:
        form.locator(tid("add-endpoint-button")).click()
    assert answer.value.status == 400
    expect(page.locator(tid("endpoint-error"))).to_have_text("url must be an http or https URL")
    expect(form.locator(tid("endpoint-description-input"))).to_have_value("kept")
    assert listed(op.api) == []

    # An event the format does not know (no checkbox offers one: posted by hand, with the
    # page's token).
    token = page.locator("meta[name=xsrf-token]").get_attribute("content")
    forged = page.request.post("/dashboard/webhooks/endpoints", form={
        "_xsrf": str(token), "url": paystate_webhook_receiver.url, "format": "paystate",
        "events_paystate": "payment.sucess"})
    assert forged.status == 400
    assert "Unknown event 'payment.sucess'" in html.unescape(forged.text())
    # Without the token: refused before the engine is asked.
    assert page.request.post("/dashboard/webhooks/endpoints", form={
        "url": paystate_webhook_receiver.url, "all_events": "1"}).status == 403
    # The 17th endpoint of a mode.
    for _ in range(16):
        assert op.api.post("/api/v1/webhook_endpoints", {
            "url": paystate_webhook_receiver.url, "enabled_events": ["*"]}).status_code == 201
    add_failed = add_form(page)
    add_failed.locator(tid("endpoint-url-input")).fill(paystate_webhook_receiver.url)
    add_failed.locator(tid("add-endpoint-button")).click()
    expect(page.locator(tid("endpoint-error"))).to_contain_text("at most 16")
    assert len(listed(op.api)) == 16
    # A roll's hours out of range: the secret stays.
    endpoint_id = listed(op.api)[0]["id"]
    refused = page.request.post(f"/dashboard/webhooks/endpoints/{endpoint_id}/roll",
                                form={"_xsrf": str(token), "expires_in_hours": "99"})
    assert refused.status == 400 and "from 0 to 72" in html.unescape(refused.text())


def test_two_endpoints_at_desktop_width_and_at_375_px(
        page: Any, gw: ThreadGateway, dash_settings: Settings,
        paystate_webhook_receiver: WebhookReceiver) -> None:
    op = on_the_webhooks_page(page, gw, dash_settings, paystate_webhook_receiver.url)
    try:
        made = op.api.post("/api/v1/webhook_endpoints", {
            "url": paystate_webhook_receiver.url + "/accounting",
            "enabled_events": ["payment.success", "refund.processed"],
            "description": "Accounting export"}).json()
        assert op.api.post(f"/api/v1/webhook_endpoints/{made['id']}/test").json()[
            "status"] == "success"
        page.goto("/dashboard/webhooks")
        expect(page.locator(tid("endpoint-row"))).to_have_count(2)
        expect(page.locator(tid("endpoint-default"))).to_have_count(1)
        expect(row(page, made["id"]).locator(tid("endpoint-success-rate"))).to_have_text(
            "100.0%")
        panel(page, made["id"])
        shot(page, "webhook-endpoints")

        page.set_viewport_size({"width": 375, "height": 800})
        for path in ("/dashboard/webhooks", f"/dashboard/webhooks?delete={made['id']}"):
            page.goto(path)
            panel(page, made["id"])
            page.locator(tid("add-endpoint")).locator("summary").click()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, (path, width)
    finally:
        retire_deliveries(dash_settings, op.merchant_id)
