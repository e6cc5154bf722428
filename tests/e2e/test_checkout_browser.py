"""checkout.js and its modal in real headless Chromium.

The gateway runs in a thread (TEST_MODE, 200 ms processing delay); the merchant's shop is served
from another loopback port, so the modal's iframe is cross-origin exactly as on a real site.
Every wait is a DOM condition or a poll with a deadline. The hosted page on its own:
test_checkout_page.py."""

# The fixtures live in checkout_support.py and are imported (a module's own fixtures win over
# any conftest's); test arguments then name them again, which is what F811 would flag.
# ruff: noqa: F811
from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

from playwright.sync_api import Browser, Page, Route, expect

from tests.e2e.checkout_support import (  # noqa: F401 (fixtures)
    Console,
    browser,
    console,
    declining_gw,
    declining_shop,
    events,
    foreign,
    gw,
    new_page,
    open_checkout,
    page,
    pay_button,
    pay_upi,
    screenshot,
    shop,
    tid,
    wait_marker,
)
from tests.support import ThreadGateway, wait_until

STATUS_POLL = re.compile(r"/api/v1/payments/pay_[A-Za-z0-9]+/public$")


# -- the modal ------------------------------------------------------------------------------

def test_upi_payment_in_the_modal_calls_on_success_with_the_payment_id(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    order = gw.client.order(50000)
    frame = open_checkout(page, shop, order["id"])

    path = ("div#payment-gateway-modal[data-test-id=payment-modal] > div.modal-overlay"
            " > div.modal-content > iframe[data-test-id=payment-iframe]")
    expect(page.locator(path)).to_have_count(1)
    expect(page.locator("#payment-gateway-modal button.close-button"
                        "[data-test-id=close-modal-button]")).to_be_visible()
    src = urlsplit(page.locator(path).get_attribute("src") or "")
    assert f"{src.scheme}://{src.netloc}" == gw.url and src.path == "/checkout"
    assert parse_qs(src.query) == {"order_id": [order["id"]], "embedded": ["true"],
                                   "parent_origin": [shop]}
    expect(frame.locator(tid("order-amount"))).to_have_text("₹500.00")
    # The order has no receipt: no reference line, and never the order id instead.
    expect(frame.locator(tid("order-id"))).to_be_hidden()
    frame.locator(tid("vpa-input")).fill("shopper@okbank")
    screenshot(page, "modal")

    # Status polls are held back until the processing state has been seen: on a busy machine
    # the state lasts about one poll interval, shorter than an assertion's retry may take.
    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.context.route(STATUS_POLL, hold)
    pay_upi(frame)
    expect(frame.locator(tid("processing-state"))).to_be_visible()
    expect(frame.locator(tid("processing-message"))).to_have_text(
        "Approve the request in your UPI app")
    screenshot(page, "processing")
    holding[0] = False
    for route in held:
        route.continue_()
    expect(frame.locator(tid("success-state"))).to_be_visible()
    expect(frame.locator(tid("success-message"))).to_be_visible()
    payment_id = frame.locator(tid("payment-id")).inner_text()
    screenshot(page, "success")

    assert events(page, 1) == [{"type": "success", "data": {"paymentId": payment_id}}]
    payment = gw.client.get(f"/api/v1/payments/{payment_id}").json()
    assert (payment["order_id"], payment["method"], payment["vpa"], payment["status"]) == (
        order["id"], "upi", "shopper@okbank", "success")
    assert gw.client.get(f"/api/v1/orders/{order['id']}").json()["status"] == "paid"

    frame.get_by_role("button", name="Done").click()  # the page asks the SDK to close
    expect(page.locator(tid("payment-modal"))).to_have_count(0)
    assert [e["type"] for e in events(page, 2)] == ["success", "close"]


def test_card_payment_through_the_shorthand_succeeds(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    order = gw.client.order(123456)
    frame = open_checkout(page, shop, order["id"], style="shorthand", amount="123456")
    expect(frame.locator(tid("order-amount"))).to_have_text("₹1,234.56")
    frame.locator(tid("method-card")).click()
    expect(frame.locator(tid("card-form"))).to_be_visible()
    expect(frame.locator(tid("upi-form"))).to_be_hidden()
    # Inside the modal too, each form has exactly one button of its own, shown with it.
    expect(frame.locator(pay_button("card-form"))).to_have_count(1)
    expect(frame.locator(pay_button("card-form"))).to_be_visible()
    expect(frame.locator(pay_button("upi-form"))).to_have_count(1)
    expect(frame.locator(pay_button("upi-form"))).to_be_hidden()
    frame.locator(tid("card-number-input")).fill("4111111111111111")
    expect(frame.locator(tid("card-number-input"))).to_have_value("4111 1111 1111 1111")
    frame.locator(tid("expiry-input")).fill("1230")
    expect(frame.locator(tid("expiry-input"))).to_have_value("12/30")
    frame.locator(tid("cvv-input")).fill("123")
    frame.locator(tid("cardholder-name-input")).fill("Asha Rao")
    frame.locator(pay_button("card-form")).click()

    expect(frame.locator(tid("success-state"))).to_be_visible()
    payment_id = frame.locator(tid("payment-id")).inner_text()
    assert events(page, 1) == [{"type": "success", "data": {"paymentId": payment_id}}]
    payment = gw.client.get(f"/api/v1/payments/{payment_id}").json()
    assert (payment["method"], payment["card_network"], payment["card_last4"]) == (
        "card", "visa", "1111")


def test_declined_payment_calls_on_failure_shows_the_error_and_retries(
        page: Page, declining_gw: ThreadGateway, declining_shop: str) -> None:
    order = declining_gw.client.order(50000)
    frame = open_checkout(page, declining_shop, order["id"])
    pay_upi(frame)
    expect(frame.locator(tid("error-state"))).to_be_visible()
    expect(frame.locator(tid("error-message"))).to_have_text("Payment declined by bank")
    screenshot(page, "error")
    first = events(page, 1)
    assert first[0]["type"] == "failure"
    assert first[0]["data"]["code"] == "PAYMENT_FAILED"
    assert first[0]["data"]["description"] == "Payment declined by bank"
    assert declining_gw.client.get(
        f"/api/v1/payments/{first[0]['data']['paymentId']}").json()["status"] == "failed"

    frame.locator(tid("retry-button")).click()
    expect(frame.locator(tid("upi-form"))).to_be_visible()
    expect(frame.locator(tid("vpa-input"))).to_have_value("shopper@okbank")
    frame.locator(pay_button()).click()
    expect(frame.locator(tid("error-state"))).to_be_visible()
    second = events(page, 2)[1]
    # A new attempt is a new payment (a fresh Idempotency-Key), not a replay of the first.
    assert second["type"] == "failure"
    assert second["data"]["paymentId"] != first[0]["data"]["paymentId"]
    expect(page.locator(tid("payment-modal"))).to_have_count(1)


def test_test_mode_shows_its_badge_and_instruments_and_a_declining_card_fails(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    order = gw.client.order(50000)
    frame = open_checkout(page, shop, order["id"])
    expect(frame.locator(tid("test-mode-badge"))).to_have_text("Test mode")
    listed = frame.locator(tid("test-instruments"))
    expect(listed).to_be_visible()
    expect(listed.locator(tid("test-instrument"))).to_have_count(6)
    for shown, result in (("success@paystate", "Succeeds"),
                          ("failure@paystate", "Payment declined by bank"),
                          ("4111 1111 1111 1111", "Succeeds"),
                          ("4242 4242 4242 4242", "Succeeds"),
                          ("4000 0000 0000 0002", "Card declined by the issuer"),
                          ("4000 0000 0000 9995", "Insufficient funds")):
        expect(listed.locator(tid("test-instrument"), has_text=shown)).to_contain_text(result)

    # The UPI form lists the UPI instruments, the card form the cards; pressing a listed card
    # fills the card form with it.
    expect(listed.get_by_role("button", name="success@paystate")).to_be_visible()
    expect(listed.get_by_role("button", name="4000 0000 0000 0002")).to_be_hidden()
    frame.locator(tid("method-card")).click()
    expect(listed.get_by_role("button", name="success@paystate")).to_be_hidden()
    listed.get_by_role("button", name="4000 0000 0000 0002").click()
    expect(frame.locator(tid("card-form"))).to_be_visible()
    expect(frame.locator(tid("card-number-input"))).to_have_value("4000 0000 0000 0002")
    frame.locator(tid("expiry-input")).fill("1230")
    frame.locator(tid("cvv-input")).fill("123")
    frame.locator(pay_button("card-form")).click()
    expect(frame.locator(tid("error-state"))).to_be_visible()
    expect(frame.locator(tid("error-message"))).to_have_text("Card declined by the issuer")
    failure = events(page, 1)[0]
    assert failure["type"] == "failure" and failure["data"]["code"] == "CARD_DECLINED"


def test_close_button_calls_on_close_and_removes_the_modal(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    order = gw.client.order(50000)
    open_checkout(page, shop, order["id"])
    page.locator(tid("close-modal-button")).click()
    expect(page.locator("#payment-gateway-modal")).to_have_count(0)
    assert events(page, 1) == [{"type": "close", "data": None}]
    assert page.evaluate("document.body.style.overflow") == ""
    expect(page.locator("#buy")).to_be_focused()  # focus goes back where it was

    # Opens again; focus stays in the dialog; Escape (keyboard users) closes it too.
    page.click("#buy")
    expect(page.frame_locator(tid("payment-iframe")).locator(tid("vpa-input"))).to_be_focused()
    page.locator(tid("close-modal-button")).focus()
    page.keyboard.press("Tab")  # past the last control of the dialog: back to the iframe
    assert page.evaluate("document.activeElement.tagName") == "IFRAME"
    page.locator("#buy").focus()  # as Shift+Tab out of the iframe would: wraps to close
    assert page.evaluate("document.activeElement.dataset.testId") == "close-modal-button"
    page.keyboard.press("Escape")
    expect(page.locator("#payment-gateway-modal")).to_have_count(0)
    assert [e["type"] for e in events(page, 2)] == ["close", "close"]

    page.click("#buy")  # and the merchant's own code may close it
    expect(page.locator(tid("payment-modal"))).to_have_count(1)
    page.evaluate("window.checkout.close(); window.checkout.close()")
    expect(page.locator("#payment-gateway-modal")).to_have_count(0)
    assert [e["type"] for e in events(page, 3)] == ["close", "close", "close"]


def test_forged_messages_from_other_origins_are_ignored(
        page: Page, gw: ThreadGateway, shop: str, foreign: str) -> None:
    order = gw.client.order(50000)
    open_checkout(page, shop, order["id"])

    # A frame from a third origin on the merchant's page, and the merchant's own window.
    page.evaluate("src => { const f = document.createElement('iframe');"
                  " f.src = src; document.body.appendChild(f); }", f"{foreign}/forger")
    wait_marker(page, "forger_done")
    page.evaluate("""() => {
        window.postMessage({type: 'payment_success', data: {paymentId: 'pay_forged'}}, '*');
        window.postMessage({type: 'close_modal'}, '*');
        window.postMessage({marker: 'self_done'}, '*');
    }""")
    wait_marker(page, "self_done")
    assert page.evaluate("window.events") == []
    expect(page.locator(tid("payment-modal"))).to_have_count(1)

    # From the gateway's own frame: an unknown type does nothing, close_modal closes.
    checkout = next(f for f in page.frames if f.url.startswith(gw.url + "/checkout"))
    checkout.evaluate("() => { parent.postMessage({type: 'card_details', data: {}}, '*');"
                      " parent.postMessage({type: 'close_modal'}, '*'); }")
    expect(page.locator(tid("payment-modal"))).to_have_count(0)
    assert page.evaluate("window.events") == [{"type": "close", "data": None}]


def test_embedded_page_refuses_a_frame_from_another_origin_than_parent_origin(
        page: Page, gw: ThreadGateway, shop: str, foreign: str) -> None:
    order = gw.client.order(50000)
    src = f"{gw.url}/checkout?order_id={order['id']}&embedded=true&parent_origin={quote(shop)}"
    page.goto(f"{foreign}/frame?src={quote(src)}")
    # Chromium replaces a frame refused by frame-ancestors with its error page.
    wait_until(lambda: any(f.url.startswith("chrome-error:") for f in page.frames), 10, 0.05,
               "the framed checkout to be refused")
    assert not any(f.url.startswith(gw.url) for f in page.frames)


def test_bad_options_log_one_error_and_open_no_modal(
        page: Page, gw: ThreadGateway, shop: str, console: Console) -> None:
    page.goto(f"{shop}/blank")
    before = set(page.evaluate("Object.getOwnPropertyNames(window)"))
    page.add_script_tag(url=f"{gw.url}/checkout.js")
    added = set(page.evaluate("Object.getOwnPropertyNames(window)")) - before
    assert added == {"PaymentGateway"}

    page.evaluate("window.first = PaymentGateway")
    page.add_script_tag(url=f"{gw.url}/sdk/checkout.js")  # loaded twice: harmless
    assert page.evaluate("window.first === PaymentGateway")

    bad = ["new PaymentGateway({}).open()",
           "new PaymentGateway().open()",
           "new PaymentGateway({orderId: 42}).open()",
           "new PaymentGateway({orderId: 'order_1', onSuccess: 'thanks'}).open()",
           "PaymentGateway.open({order_id: 'order_1', amount: 12.5})",
           "PaymentGateway.open({order_id: '<img src=x>'})"]
    for i, script in enumerate(bad, start=1):
        page.evaluate(script)
        assert len(console.errors) == i, (script, console.errors)
        assert console.errors[-1].startswith("PaymentGateway: ")
    expect(page.locator("#payment-gateway-modal")).to_have_count(0)
    expect(page.locator("iframe")).to_have_count(0)


def test_375px_wide_page_and_modal_have_no_horizontal_scroll(
        browser: Browser, console: Console, gw: ThreadGateway, shop: str) -> None:
    page = new_page(browser, console, width=375, height=720)
    try:
        overflow = ("() => document.documentElement.scrollWidth"
                    " - document.documentElement.clientWidth")
        order = gw.client.order(10_000_000)
        page.goto(f"{gw.url}/checkout?order_id={order['id']}")
        page.locator(tid("method-card")).click()
        expect(page.locator(tid("cardholder-name-input"))).to_be_visible()
        assert page.evaluate(overflow) == 0

        frame = open_checkout(page, shop, order["id"])
        frame.locator(tid("method-card")).click()
        expect(frame.locator(tid("card-form"))).to_be_visible()
        assert page.evaluate(overflow) == 0
        checkout = next(f for f in page.frames if f.url.startswith(gw.url + "/checkout"))
        assert checkout.evaluate(overflow) == 0
        box = page.locator(".modal-content").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        screenshot(page, "mobile")
    finally:
        page.context.close()
    assert not console.page_errors, console.page_errors


def test_a_card_payment_still_pending_after_five_minutes_is_not_reported_as_failed(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    """A card payment (a UPI one expires: test_checkout_experience.py)."""
    order = gw.client.order(50000)
    page.clock.install()
    frame = open_checkout(page, shop, order["id"])

    def pending(route: Route) -> None:
        response = route.fetch()
        body = {**response.json(), "status": "pending"}
        route.fulfill(response=response, json=body)

    page.context.route(STATUS_POLL, pending)
    frame.locator(tid("method-card")).click()
    frame.locator(tid("card-number-input")).fill("4111111111111111")
    frame.locator(tid("expiry-input")).fill("1230")
    frame.locator(tid("cvv-input")).fill("123")
    frame.locator(pay_button("card-form")).click()
    expect(frame.locator(tid("processing-state"))).to_be_visible()
    page.clock.fast_forward("05:01")
    expect(frame.locator(tid("error-message"))).to_contain_text("not confirmed this payment yet")
    expect(frame.locator(tid("retry-button"))).to_be_hidden()
    assert page.evaluate("window.events") == []


def test_the_modal_works_under_a_strict_merchant_csp(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    """A merchant whose CSP allows no inline styles: the SDK styles through the CSSOM."""
    order = gw.client.order(50000)
    frame = open_checkout(page, shop, order["id"], csp="1")
    expect(frame.locator(tid("order-amount"))).to_have_text("₹500.00")
    styles = page.evaluate("""() => [
        getComputedStyle(document.getElementById('payment-gateway-modal')).position,
        getComputedStyle(document.querySelector('.modal-overlay')).display,
        getComputedStyle(document.querySelector('.close-button')).position]""")
    assert styles == ["fixed", "flex", "absolute"]
    # ... while the shop's own <style> element was indeed refused (body margin stays 8px).
    assert page.evaluate("getComputedStyle(document.body).marginTop") == "8px"
