"""checkout.js and the hosted checkout page in real headless Chromium.

The gateway runs in a thread (TEST_MODE, 200 ms processing delay); the merchant's shop is served
from another loopback port, so the modal's iframe is cross-origin exactly as on a real site.
Every wait is a DOM condition or a poll with a deadline.

``PAYSTATE_CHECKOUT_SCREENSHOTS=docs/images`` also writes the README's screenshots
(``checkout-modal.png``, ``-processing``, ``-success``, ``-error``)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, Route, expect, sync_playwright

from paystate.config import Settings
from tests.e2e.checkout_support import chromium_path, shop_site
from tests.support import ThreadGateway, make_settings, wait_until

SCREENSHOTS = os.environ.get("PAYSTATE_CHECKOUT_SCREENSHOTS")
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

IDS = ("checkout-container", "order-summary", "order-amount", "order-id", "payment-methods",
       "method-upi", "method-card", "upi-form", "vpa-input", "card-form", "card-number-input",
       "expiry-input", "cvv-input", "cardholder-name-input", "pay-button", "processing-state",
       "processing-message", "success-state", "payment-id", "success-message", "error-state",
       "error-message", "retry-button")


def tid(name: str) -> str:
    return f"[data-test-id={name}]"


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    assert path, "Chromium is needed: apt-get install chromium (or set CHROMIUM=/path)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def running_gateway(**overrides: Any) -> Iterator[ThreadGateway]:
    gateway = ThreadGateway(make_settings(test_processing_delay_ms=200, **overrides)).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    with running_gateway() as gateway:
        yield gateway


@pytest.fixture(scope="module")
def declining_gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    """TEST_PAYMENT_SUCCESS=false: every payment is declined."""
    with running_gateway(test_payment_success=False) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def shop(gw: ThreadGateway) -> Iterator[str]:
    with shop_site(gw.url) as url:
        yield url


@pytest.fixture(scope="module")
def declining_shop(declining_gw: ThreadGateway) -> Iterator[str]:
    with shop_site(declining_gw.url) as url:
        yield url


@pytest.fixture(scope="module")
def foreign(gw: ThreadGateway) -> Iterator[str]:
    """A third origin, neither the gateway nor the merchant."""
    with shop_site(gw.url) as url:
        yield url


class Console:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.page_errors: list[str] = []


@pytest.fixture
def console() -> Console:
    return Console()


def new_page(browser: Browser, console: Console, width: int = 1000,
             height: int = 760) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.page_errors.append(str(e)))
    return page


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    p = new_page(browser, console)
    try:
        yield p
    finally:
        p.context.close()
    assert not console.page_errors, console.page_errors


# -- helpers --------------------------------------------------------------------------------

def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"checkout-{name}.png"))


def open_checkout(page: Page, shop: str, order_id: str, **query: str) -> FrameLocator:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    page.goto(f"{shop}/shop?order_id={order_id}{extra}")
    page.click("#buy")
    frame = page.frame_locator(tid("payment-iframe"))
    expect(frame.locator(tid("pay-button"))).to_be_visible()
    return frame


def events(page: Page, count: int) -> list[dict[str, Any]]:
    page.wait_for_function("n => window.events.length >= n", arg=count, timeout=TIMEOUT_MS)
    result: list[dict[str, Any]] = page.evaluate("window.events")
    return result


def pay_upi(frame: FrameLocator, vpa: str = "shopper@okbank") -> None:
    frame.locator(tid("method-upi")).click()
    frame.locator(tid("vpa-input")).fill(vpa)
    frame.locator(tid("pay-button")).click()


def wait_marker(page: Page, marker: str) -> None:
    page.wait_for_function("m => window.markers.includes(m)", arg=marker, timeout=TIMEOUT_MS)


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
    expect(frame.locator(tid("order-id"))).to_have_text(order["id"])
    frame.locator(tid("vpa-input")).fill("shopper@okbank")
    screenshot(page, "modal")

    pay_upi(frame)
    expect(frame.locator(tid("processing-state"))).to_be_visible()
    expect(frame.locator(tid("processing-message"))).to_contain_text("Processing")
    screenshot(page, "processing")
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
    frame.locator(tid("card-number-input")).fill("4111111111111111")
    expect(frame.locator(tid("card-number-input"))).to_have_value("4111 1111 1111 1111")
    frame.locator(tid("expiry-input")).fill("1230")
    expect(frame.locator(tid("expiry-input"))).to_have_value("12/30")
    frame.locator(tid("cvv-input")).fill("123")
    frame.locator(tid("cardholder-name-input")).fill("Asha Rao")
    frame.locator(tid("pay-button")).click()

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
    frame.locator(tid("pay-button")).click()
    expect(frame.locator(tid("error-state"))).to_be_visible()
    second = events(page, 2)[1]
    # A new attempt is a new payment (a fresh Idempotency-Key), not a replay of the first.
    assert second["type"] == "failure"
    assert second["data"]["paymentId"] != first[0]["data"]["paymentId"]
    expect(page.locator(tid("payment-modal"))).to_have_count(1)


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


# -- the standalone page --------------------------------------------------------------------

def test_standalone_page_pays_an_order_by_keyboard_and_shows_its_id(
        page: Page, gw: ThreadGateway) -> None:
    order = gw.client.order(50000)
    response = page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    assert response is not None
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    for name in IDS:
        expect(page.locator(tid(name))).to_have_count(1)
    expect(page.locator(tid("order-amount"))).to_have_text("₹500.00")
    expect(page.get_by_label("UPI ID")).to_be_focused()  # labelled, and focused on load

    page.keyboard.type("shopper@okbank")
    page.keyboard.press("Enter")
    expect(page.locator(tid("success-state"))).to_be_visible()
    payment_id = page.locator(tid("payment-id")).inner_text()
    assert payment_id.startswith("pay_")
    assert gw.client.get(f"/api/v1/payments/{payment_id}").json()["status"] == "success"

    page.reload()
    expect(page.locator("#notice")).to_contain_text("already been paid")
    expect(page.locator(tid("pay-button"))).to_be_hidden()


def test_card_form_by_keyboard_and_client_checks_before_sending(
        page: Page, gw: ThreadGateway) -> None:
    order = gw.client.order(50000)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    expect(page.get_by_label("UPI ID")).to_be_focused()
    page.keyboard.type("not a vpa")
    page.keyboard.press("Enter")
    expect(page.locator("#vpa-error")).to_have_text("Enter a UPI ID like name@bank")
    expect(page.get_by_label("UPI ID")).to_have_attribute("aria-invalid", "true")

    page.locator(tid("method-card")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Card number")).to_be_visible()
    page.get_by_label("Card number").fill("4111 1111 1111 1112")   # fails Luhn
    page.get_by_label("Expiry (MM/YY)").fill("13/30")
    page.get_by_label("CVV").fill("12")
    page.get_by_label("Name on card").press("Enter")
    expect(page.locator("#card-number-error")).to_have_text("Enter a valid card number")
    expect(page.locator("#expiry-error")).to_have_text("The month must be 01 to 12")
    expect(page.locator("#cvv-error")).to_have_text("Enter the 3 or 4 digit CVV")
    page.get_by_label("Expiry (MM/YY)").fill("01/20")
    page.locator(tid("pay-button")).click()
    expect(page.locator("#expiry-error")).to_have_text("This card has expired")
    expect(page.locator(tid("processing-state"))).to_be_hidden()
    payments = gw.client.get("/api/v1/payments?limit=1000").json()
    assert not [p for p in payments if p["order_id"] == order["id"]]


def test_the_servers_refusal_is_shown_in_the_form(page: Page, gw: ThreadGateway) -> None:
    order = gw.client.order(50000)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    expect(page.locator(tid("pay-button"))).to_be_visible()
    # Meanwhile the order gets paid elsewhere: the server refuses, the page says why.
    gw.client.wait_payment(gw.client.upi_payment(order["id"])["id"])
    page.locator(tid("vpa-input")).fill("shopper@okbank")
    page.locator(tid("pay-button")).click()
    refusal = gw.client.post("/api/v1/payments/public", {
        "order_id": order["id"], "method": "upi", "vpa": "shopper@okbank"}, auth=False)
    assert refusal.status_code == 400
    expect(page.locator("#form-error")).to_have_text(refusal.json()["error"]["description"])
    expect(page.locator(tid("pay-button"))).to_be_enabled()


def test_unknown_or_missing_order_shows_a_message_not_a_form(
        page: Page, gw: ThreadGateway) -> None:
    page.goto(f"{gw.url}/checkout?order_id=order_doesnotexist0000")
    expect(page.locator("#notice")).to_contain_text("could not find this order")
    expect(page.locator(tid("payment-methods"))).to_be_hidden()

    order = gw.client.order(50000)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}&amount=40000")  # not what was shown
    expect(page.locator("#notice")).to_contain_text("does not match this order")
    expect(page.locator(tid("pay-button"))).to_be_hidden()

    response = page.goto(f"{gw.url}/checkout")
    assert response is not None and response.status == 400
    expect(page.locator("#notice")).to_contain_text("no valid order")
    expect(page.locator(tid("pay-button"))).to_be_hidden()


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


def test_rate_limited_requests_wait_for_retry_after_and_keep_their_key(
        page: Page, gw: ThreadGateway) -> None:
    """429 RATE_LIMITED from the public endpoints (played here by Playwright's router): the
    order is read again after Retry-After; a payment request is resent with the same Idempotency-Key after Retry-After, a few times,
    then the shopper is told to wait; polling slows down to Retry-After."""
    order = gw.client.order(50000)
    keys: list[str | None] = []
    polls: list[float] = []
    limited = {"order": 1, "posts": 4, "polls": 1}

    def too_many(route: Route, retry_after: str) -> None:
        route.fulfill(status=429, headers={"Retry-After": retry_after},
                      content_type="application/json",
                      body='{"error":{"code":"RATE_LIMITED","description":"Too many requests"}}')

    def on_post(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if limited["posts"]:
            limited["posts"] -= 1
            too_many(route, "1")
        else:
            route.continue_()

    def on_poll(route: Route) -> None:
        polls.append(time.monotonic())
        if limited["polls"]:
            limited["polls"] -= 1
            too_many(route, "2")
        else:
            route.continue_()

    def on_order(route: Route) -> None:
        if limited["order"]:
            limited["order"] -= 1
            too_many(route, "1")
        else:
            route.continue_()

    page.route("**/api/v1/orders/*/public", on_order)
    page.route("**/api/v1/payments/public", on_post)
    page.route(re.compile(r"/api/v1/payments/pay_[A-Za-z0-9]+/public$"), on_poll)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    expect(page.locator(tid("order-amount"))).to_have_text("₹500.00")  # loaded on the 2nd try
    assert limited["order"] == 0
    page.locator(tid("vpa-input")).fill("shopper@okbank")
    page.locator(tid("pay-button")).click()
    expect(page.locator("#form-error")).to_contain_text("Too many attempts")
    assert len(keys) == 4 and len(set(keys)) == 1 and keys[0]

    page.locator(tid("pay-button")).click()  # a new attempt: a new key, and it goes through
    expect(page.locator(tid("processing-message"))).to_contain_text("Still processing")
    expect(page.locator(tid("success-state"))).to_be_visible()
    assert len(keys) == 5 and keys[4] != keys[0]
    assert len(polls) >= 2 and polls[1] - polls[0] >= 1.9


def test_a_payment_still_pending_after_five_minutes_is_not_reported_as_failed(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    order = gw.client.order(50000)
    page.clock.install()
    frame = open_checkout(page, shop, order["id"])

    def pending(route: Route) -> None:
        response = route.fetch()
        body = {**response.json(), "status": "pending"}
        route.fulfill(response=response, json=body)

    page.context.route(re.compile(r"/api/v1/payments/pay_[A-Za-z0-9]+/public$"), pending)
    pay_upi(frame)
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


def test_an_order_out_of_attempts_says_so_at_once(page: Page) -> None:
    """The gateway's cap on payments per order answers 429 with an hour's Retry-After: the
    page shows the server's reason instead of resending."""
    with running_gateway(test_payment_success=False, public_payment_attempts=1) as capped:
        order = capped.client.order(50000)
        page.goto(f"{capped.url}/checkout?order_id={order['id']}")
        page.locator(tid("vpa-input")).fill("shopper@okbank")
        page.locator(tid("pay-button")).click()
        expect(page.locator(tid("error-state"))).to_be_visible()
        page.locator(tid("retry-button")).click()
        started = time.monotonic()
        page.locator(tid("pay-button")).click()
        expect(page.locator("#form-error")).to_contain_text("the most allowed")
        assert time.monotonic() - started < 5
        expect(page.locator(tid("pay-button"))).to_be_enabled()
