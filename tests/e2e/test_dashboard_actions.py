"""What a merchant does on the dashboard besides looking, in real headless Chromium: refund
(partial with a reason, then the rest) and capture from a payment's page through the API's
engine operations, a refused refund shown and changing nothing, a double submit making one
refund, search by every key, the orders and refunds lists, the date filter, the CSV exports
(content and the formula guard), the delivery log's status filter, payload viewer and link to
the object, and every page at 375 px without sideways scrolling.

``PAYSTATE_DASHBOARD_SCREENSHOTS=docs/images`` saves the payment page with its refund form
(``dashboard-payment-refund.png``) and the transactions page at 375 px
(``dashboard-transactions-375.png``).
"""

# test_dashboard.py's fixtures (a module-scoped gateway and Chromium, a page per test) are
# imported, so made once more for this module; pyflakes takes their uses for redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import psycopg

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
)
from tests.support import Client, ThreadGateway, wait_until
from tests.webhooks_support import retire_deliveries

expect = sync_api.expect
CARD = {"number": "4111111111111111", "expiry_month": 12, "expiry_year": 2099, "cvv": "123",
        "holder_name": "A Shopper"}


def tid(name: str) -> str:
    return f"[data-test-id={name}]"


def signed_in(page: Any, gw: ThreadGateway, settings: Settings,
              webhook_url: str | None = None) -> Operator:
    op = new_operator(settings, gw.url, webhook_url=webhook_url)
    login(page, op.email)
    return op


def paid(api: Client, amount: int = 50000, **order: Any) -> dict[str, Any]:
    """A successful UPI payment on a new order (``order``: the order's other fields)."""
    payment = api.upi_payment(api.order(amount, **order)["id"])
    return api.wait_payment(payment["id"])


def refunds_of(api: Client, payment_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/api/v1/payments/{payment_id}/refunds")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def refund(page: Any, amount: str, reason: str = "") -> None:
    page.fill(tid("refund-amount-input"), amount)
    page.fill(tid("refund-reason-input"), reason)
    page.click(tid("refund-button"))


def no_sideways_scroll(page: Any, path: str) -> None:
    page.goto(path)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, (path, width)


def test_refund_partial_with_a_reason_then_the_rest_and_a_refusal_changes_nothing(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = signed_in(page, gw, dash_settings)
    payment = paid(op.api, 50000)
    assert payment["status"] == "success"
    page.goto(f"/dashboard/payments/{payment['id']}")
    expect(page.locator(tid("payment-status"))).to_have_text("success")
    # The form offers the whole refundable amount.
    expect(page.locator(tid("refund-amount-input"))).to_have_value("500.00")
    shot(page, "payment-refund")

    refund(page, "120.50", "damaged in transit")
    expect(page.locator(tid("payment-notice"))).to_contain_text("Refund created")
    [made] = refunds_of(op.api, payment["id"])
    assert (made["amount"], made["reason"]) == (12050, "damaged in transit")
    row = page.locator(f"tr{tid('refund-row')}[data-refund-id=\"{made['id']}\"]")
    expect(row.locator(tid("refund-reason"))).to_have_text("damaged in transit")
    expect(row.locator(tid("refund-amount"))).to_have_text("\u20b9120.50")

    # More than is left: refused by the engine, shown, nothing written.
    refund(page, "400.00", "too much")
    expect(page.locator(tid("payment-error"))).to_be_visible()
    assert len(refunds_of(op.api, payment["id"])) == 1
    expect(page.locator(tid("refund-reason-input"))).to_have_value("too much")
    # Not an amount at all: refused before the engine is asked.
    refund(page, "12.345")
    expect(page.locator(tid("payment-error"))).to_contain_text("rupees")
    assert len(refunds_of(op.api, payment["id"])) == 1

    page.goto(f"/dashboard/payments/{payment['id']}")
    expect(page.locator(tid("refund-amount-input"))).to_have_value("379.50")
    page.click(tid("refund-button"))
    expect(page.locator(tid("payment-notice"))).to_contain_text("Refund created")
    refunds = refunds_of(op.api, payment["id"])
    assert sorted(r["amount"] for r in refunds) == [12050, 37950]
    expect(page.locator(tid("refund-row"))).to_have_count(2)
    # Nothing is left to refund: the form is refused by the engine, not hidden by the page.
    expect(page.locator(tid("refund-amount-input"))).to_have_value("0.00")


def test_capture_from_the_payment_page(page: Any, gw: ThreadGateway,
                                       dash_settings: Settings) -> None:
    op = signed_in(page, gw, dash_settings)
    payment = paid(op.api)
    assert payment["captured"] is False
    page.goto(f"/dashboard/payments/{payment['id']}")
    page.click(tid("capture-button"))
    expect(page.locator(tid("payment-notice"))).to_have_text("Payment captured.")
    expect(page.locator(tid("payment-captured"))).to_be_visible()
    expect(page.locator(tid("capture-button"))).to_have_count(0)
    assert op.api.get(f"/api/v1/payments/{payment['id']}").json()["captured"] is True

    # A payment with a refund is no longer capturable: no button, and a forged POST is refused.
    other = paid(op.api)
    assert op.api.post(f"/api/v1/payments/{other['id']}/refunds",
                       {"amount": 100}).status_code == 201
    page.goto(f"/dashboard/payments/{other['id']}")
    expect(page.locator(tid("capture-button"))).to_have_count(0)
    token = page.locator("input[name=_xsrf]").first.get_attribute("value")
    answer = page.request.post(f"/dashboard/payments/{other['id']}/capture",
                               form={"_xsrf": token}, headers={"Origin": gw.url})
    assert answer.status == 400 and "refunds" in answer.text()
    assert op.api.get(f"/api/v1/payments/{other['id']}").json()["captured"] is False


def test_a_double_submit_makes_one_refund(page: Any, gw: ThreadGateway,
                                          dash_settings: Settings) -> None:
    op = signed_in(page, gw, dash_settings)
    payment = paid(op.api)
    page.goto(f"/dashboard/payments/{payment['id']}")
    page.fill(tid("refund-amount-input"), "10")
    page.fill(tid("refund-reason-input"), "twice")
    # The same form sent twice at once, then once more (a browser's re-POST).
    statuses = page.evaluate("""async () => {
        const form = document.querySelector('[data-test-id=refund-form]');
        const send = () => fetch(form.action, {method: 'POST', body: new FormData(form)});
        const first = await Promise.all([send(), send()]);
        const again = await send();
        return [...first, again].map(r => r.status);
    }""")
    assert statuses == [200, 200, 200], statuses
    [made] = refunds_of(op.api, payment["id"])
    assert (made["amount"], made["reason"]) == (1000, "twice")
    # A new page is a new form: its refund is another one.
    page.goto(f"/dashboard/payments/{payment['id']}")
    refund(page, "10", "again")
    expect(page.locator(tid("payment-notice"))).to_contain_text("Refund created")
    assert len(refunds_of(op.api, payment["id"])) == 2


def test_search_by_id_prefix_order_receipt_vpa_last4_and_email(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = signed_in(page, gw, dash_settings)
    tag = uuid.uuid4().hex[:8]
    by_receipt = op.api.upi_payment(op.api.order(receipt=f"rcpt_{tag}")["id"])
    by_vpa = op.api.upi_payment(op.api.order()["id"], vpa=f"Buyer.{tag}@okbank")
    card_order = op.api.order(notes={"email": f"Buyer-{tag}@Example.com"})
    answer = op.api.post("/api/v1/payments", {"order_id": card_order["id"], "method": "card",
                                              "card": {**CARD, "number": "4242424242424242"}})
    assert answer.status_code == 201, answer.text
    by_card = answer.json()
    rows = page.locator("tr[data-test-id=transaction-row]")

    def finds(text: str, *expected: dict[str, Any]) -> None:
        page.goto("/dashboard/transactions")
        page.fill(tid("search-input"), text)
        page.click(tid("search-button"))
        expect(rows).to_have_count(len(expected))
        assert sorted(str(r.get_attribute("data-payment-id")) for r in rows.all()) == sorted(
            p["id"] for p in expected), text

    finds(by_receipt["id"][:12], by_receipt)
    finds(by_receipt["id"], by_receipt)
    finds(card_order["id"], by_card)
    finds(f"rcpt_{tag}", by_receipt)
    finds(f"buyer.{tag}@OKBANK", by_vpa)
    finds("4242", by_card)
    finds(f"buyer-{tag}@example.com", by_card)
    # Wildcards are text: "pay_%" finds nothing, "pay_" every payment.
    finds("pay_%")
    finds("pay_", by_receipt, by_vpa, by_card)
    finds("nothing-like-it")
    # Another merchant's payment is not found by its id.
    other = new_operator(dash_settings, gw.url)
    foreign = other.api.upi_payment(other.api.order()["id"])
    finds(foreign["id"])


def test_orders_and_refunds_lists_link_to_their_objects(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = signed_in(page, gw, dash_settings)
    payment = paid(op.api, 30000, receipt="rcpt_lists")
    made = op.api.post(f"/api/v1/payments/{payment['id']}/refunds",
                       {"amount": 500, "reason": "listed"}).json()

    page.goto("/dashboard/orders")
    row = page.locator(f"tr{tid('order-row')}[data-order-id=\"{payment['order_id']}\"]")
    expect(row.locator(tid("order-receipt"))).to_have_text("rcpt_lists")
    row.locator(tid("order-link")).click()
    page.wait_for_url(f"**/dashboard/orders/{payment['order_id']}")
    page.locator(f"tr{tid('order-payment-row')}[data-payment-id=\"{payment['id']}\"] a").click()
    page.wait_for_url(f"**/dashboard/payments/{payment['id']}")

    page.goto("/dashboard/refunds")
    row = page.locator(f"tr{tid('refund-list-row')}[data-refund-id=\"{made['id']}\"]")
    expect(row.locator(tid("refund-reason"))).to_have_text("listed")
    row.locator(tid("refund-payment")).click()
    page.wait_for_url(f"**/dashboard/payments/{payment['id']}")
    page.goto("/dashboard/refunds")
    page.locator(f"tr{tid('refund-list-row')}[data-refund-id=\"{made['id']}\"]").locator(
        tid("refund-id")).click()
    page.wait_for_url(f"**/dashboard/states/refund/{made['id']}")

    # Lists are of the mode shown: live mode has none of these.
    page.goto("/dashboard/orders?mode=live")
    expect(page.locator(tid("order-row"))).to_have_count(0)
    page.goto("/dashboard/refunds?mode=test")


def downloaded(download: Any) -> list[dict[str, str]]:
    """A CSV the browser downloaded, as rows by heading."""
    with open(download.path(), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def backdate(settings: Settings, table: str, object_id: str, when: str) -> None:
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(f"UPDATE {table} SET created_at = %s WHERE id = %s", (when, object_id))


def test_date_filter_and_csv_exports_with_the_formula_guard(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:
    op = signed_in(page, gw, dash_settings)
    old = paid(op.api, 20000, receipt="=HYPERLINK(\"x\")")
    new = paid(op.api, 30000, receipt="plain, \"quoted\"")
    old_refund = op.api.post(f"/api/v1/payments/{old['id']}/refunds",
                             {"amount": 300, "reason": "-2+3"}).json()
    op.api.post(f"/api/v1/payments/{new['id']}/refunds", {"amount": 400, "reason": "@sum"})
    backdate(dash_settings, "payments", old["id"], "2020-01-15T10:00:00Z")
    backdate(dash_settings, "refunds", old_refund["id"], "2020-01-16T10:00:00Z")

    page.goto("/dashboard/transactions")
    rows = page.locator("tr[data-test-id=transaction-row]")
    expect(rows).to_have_count(2)
    page.fill(tid("date-from-input"), "2020-01-01")
    page.fill(tid("date-to-input"), "2020-01-15")
    page.click(tid("search-button"))
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-payment-id") == old["id"]

    with page.expect_download() as info:
        page.click(tid("export-csv"))
    table = downloaded(info.value)
    assert [r["id"] for r in table] == [old["id"]]
    assert table[0]["receipt"] == "'=HYPERLINK(\"x\")"
    assert (table[0]["amount"], table[0]["status"], table[0]["created_at"]) == (
        "20000", "success", "2020-01-15T10:00:00Z")
    assert info.value.suggested_filename == "payments-test-2020-01-01-2020-01-15.csv"

    # No range: every payment, newest first; quoting is the csv module's.
    answer = page.request.get("/dashboard/transactions.csv")
    assert answer.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(answer.text())))
    assert [r["id"] for r in table] == [new["id"], old["id"]]
    assert table[0]["receipt"] == "plain, \"quoted\""

    page.goto("/dashboard/refunds?from=2020-01-16&to=2020-01-16")
    expect(page.locator(tid("refund-list-row"))).to_have_count(1)
    with page.expect_download() as info:
        page.click(tid("export-csv"))
    table = downloaded(info.value)
    assert [(r["id"], r["reason"], r["amount"], r["currency"]) for r in table] == [
        (old_refund["id"], "'-2+3", "300", "INR")]
    table = list(csv.DictReader(io.StringIO(page.request.get("/dashboard/refunds.csv").text())))
    assert [r["reason"] for r in table] == ["'@sum", "'-2+3"]
    page.goto("/dashboard/refunds?from=2021-01-01")
    expect(page.locator(tid("refund-list-row"))).to_have_count(1)


def test_delivery_log_status_filter_payload_viewer_and_link_to_the_object(
        page: Any, gw: ThreadGateway, dash_settings: Settings,
        paystate_webhook_receiver: WebhookReceiver) -> None:
    op = signed_in(page, gw, dash_settings, paystate_webhook_receiver.url)
    try:
        payment = paid(op.api, 40000)
        made = op.api.post(f"/api/v1/payments/{payment['id']}/refunds",
                           {"amount": 100, "reason": "<b>bold</b> & <script>x()</script>"}
                           ).json()

        def delivered() -> set[str]:
            listed = op.api.get("/api/v1/webhooks").json()["data"]
            return {d["event"] for d in listed if d["status"] == "success"}
        wait_until(lambda: {"payment.success", "refund.created"} <= delivered(), 20, 0.1,
                   "the payment's and the refund's deliveries to succeed")

        page.goto("/dashboard/webhooks")
        page.select_option(tid("delivery-status-filter"), "success")
        page.click(tid("delivery-filter-button"))
        page.wait_for_url("**/dashboard/webhooks?status=success")
        items = page.locator(tid("webhook-log-item"))
        expect(items.first).to_be_visible()
        for status in items.locator(tid("webhook-status")).all():
            expect(status).to_have_text("success")
        page.goto("/dashboard/webhooks?status=failed")
        expect(items).to_have_count(0)

        def log_of(event: str) -> Any:
            page.goto("/dashboard/webhooks?status=success")
            item = items.filter(has=page.locator(tid("webhook-event"), has_text=event)).first
            delivery_id = item.get_attribute("data-webhook-id")
            return page.locator(f"{tid('webhook-attempt-log')}[data-webhook-id=\"{delivery_id}\"]")

        log = log_of("refund.created")
        viewer = log.locator(tid("webhook-payload"))
        viewer.locator("summary").click()
        shown = viewer.locator(tid("webhook-payload-json"))
        expect(shown).to_contain_text(f"\"id\": \"{made['id']}\"")
        # Pretty-printed, and escaped: the reason's markup is text, not elements.
        assert "\n  \"" in shown.inner_text()
        expect(shown).to_contain_text("<b>bold</b> & <script>x()</script>")
        expect(viewer.locator("script, b")).to_have_count(0)
        log.locator(tid("webhook-object")).click()
        page.wait_for_url(f"**/dashboard/states/refund/{made['id']}")

        log_of("payment.success").locator(tid("webhook-object")).click()
        page.wait_for_url(f"**/dashboard/payments/{payment['id']}")
    finally:
        retire_deliveries(dash_settings, op.merchant_id)


def test_every_page_fits_375_px(page: Any, gw: ThreadGateway, dash_settings: Settings,
                                paystate_webhook_receiver: WebhookReceiver) -> None:
    op = signed_in(page, gw, dash_settings, paystate_webhook_receiver.url)
    try:
        payment = paid(op.api, 123400, receipt="rcpt_a_rather_long_receipt_name_12345")
        made = op.api.post(f"/api/v1/payments/{payment['id']}/refunds",
                           {"amount": 100, "reason": "a reason long enough to wrap " * 3}).json()
        page.set_viewport_size({"width": 375, "height": 800})
        no_sideways_scroll(page, "/dashboard/transactions")
        shot(page, "transactions-375")
        for path in ("/dashboard", f"/dashboard/payments/{payment['id']}", "/dashboard/orders",
                     f"/dashboard/orders/{payment['order_id']}", "/dashboard/refunds",
                     "/dashboard/webhooks", "/dashboard/webhooks?status=success",
                     "/dashboard/states", f"/dashboard/states/refund/{made['id']}",
                     "/dashboard/docs"):
            no_sideways_scroll(page, path)
    finally:
        retire_deliveries(dash_settings, op.merchant_id)
