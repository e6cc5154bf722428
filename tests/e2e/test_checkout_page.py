"""The hosted checkout page on its own (a payment link), in real headless Chromium: the
SPEC's data-test-ids, keyboard use, client checks, the server's refusals, unknown and paid
orders, rate limits. The modal: test_checkout_browser.py."""

# The fixtures live in checkout_support.py and are imported (a module's own fixtures win over
# any conftest's); test arguments then name them again, which is what F811 would flag.
# ruff: noqa: F811
from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Page, Route, expect

from tests.e2e.checkout_support import (  # noqa: F401 (fixtures)
    browser,
    console,
    gw,
    page,
    pay_button,
    running_gateway,
    tid,
)
from tests.support import ThreadGateway

IDS = ("checkout-container", "order-summary", "order-amount", "order-id", "payment-methods",
       "method-upi", "method-card", "upi-form", "vpa-input", "card-form", "card-number-input",
       "expiry-input", "cvv-input", "cardholder-name-input", "processing-state",
       "processing-message", "success-state", "payment-id", "success-message", "error-state",
       "error-message", "retry-button")


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
    expect(page.locator(pay_button())).to_be_hidden()


def test_each_form_holds_its_inputs_and_one_pay_button_shown_only_with_it(
        page: Page, gw: ThreadGateway) -> None:
    """The seed's automated checkers find elements inside their containers:
    ``[data-test-id=upi-form] [data-test-id=pay-button]`` must find exactly one button, visible
    while that form is shown, and the same for ``card-form``, which pays with its own."""
    order = gw.client.order(50000)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    upi, card = page.locator(pay_button("upi-form")), page.locator(pay_button("card-form"))
    expect(upi).to_have_count(1)
    expect(card).to_have_count(1)
    expect(page.locator(tid("pay-button"))).to_have_count(2)  # no third one outside the forms
    expect(page.locator(f"{tid('upi-form')} {tid('vpa-input')}")).to_have_count(1)
    for name in ("card-number-input", "expiry-input", "cvv-input", "cardholder-name-input"):
        expect(page.locator(f"{tid('card-form')} {tid(name)}")).to_have_count(1)
    expect(upi).to_be_visible()
    expect(upi).to_have_text("Pay ₹500.00")
    expect(card).to_be_hidden()

    page.locator(tid("method-card")).click()
    expect(card).to_be_visible()
    expect(card).to_have_text("Pay ₹500.00")
    expect(upi).to_be_hidden()
    page.locator(tid("card-number-input")).fill("4111 1111 1111 1111")
    page.locator(tid("expiry-input")).fill("12/30")
    page.locator(tid("cvv-input")).fill("123")
    page.locator(tid("cardholder-name-input")).fill("Asha Rao")
    card.click()
    expect(page.locator(tid("success-state"))).to_be_visible()
    payment_id = page.locator(tid("payment-id")).inner_text()
    assert gw.client.get(f"/api/v1/payments/{payment_id}").json()["method"] == "card"


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
    page.locator(pay_button("card-form")).click()
    expect(page.locator("#expiry-error")).to_have_text("This card has expired")
    expect(page.locator(tid("processing-state"))).to_be_hidden()
    payments = gw.client.get("/api/v1/payments?limit=1000").json()
    assert not [p for p in payments if p["order_id"] == order["id"]]


def test_the_servers_refusal_is_shown_in_the_form(page: Page, gw: ThreadGateway) -> None:
    order = gw.client.order(50000)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    expect(page.locator(pay_button())).to_be_visible()
    # Meanwhile the order gets paid elsewhere: the server refuses, the page says why.
    gw.client.wait_payment(gw.client.upi_payment(order["id"])["id"])
    page.locator(tid("vpa-input")).fill("shopper@okbank")
    page.locator(pay_button()).click()
    refusal = gw.client.post("/api/v1/payments/public", {
        "order_id": order["id"], "method": "upi", "vpa": "shopper@okbank"}, auth=False)
    assert refusal.status_code == 400
    expect(page.locator("#form-error")).to_have_text(refusal.json()["error"]["description"])
    expect(page.locator(pay_button())).to_be_enabled()


def test_unknown_or_missing_order_shows_a_message_not_a_form(
        page: Page, gw: ThreadGateway) -> None:
    page.goto(f"{gw.url}/checkout?order_id=order_doesnotexist0000")
    expect(page.locator("#notice")).to_contain_text("could not find this order")
    expect(page.locator(tid("payment-methods"))).to_be_hidden()

    order = gw.client.order(50000)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}&amount=40000")  # not what was shown
    expect(page.locator("#notice")).to_contain_text("does not match this order")
    expect(page.locator(pay_button())).to_be_hidden()

    response = page.goto(f"{gw.url}/checkout")
    assert response is not None and response.status == 400
    expect(page.locator("#notice")).to_contain_text("no valid order")
    expect(page.locator(pay_button())).to_be_hidden()


def test_rate_limited_requests_wait_for_retry_after_and_keep_their_key(
        page: Page, gw: ThreadGateway) -> None:
    """429 RATE_LIMITED from the public endpoints (played here by Playwright's router): the
    order is read again after Retry-After; a payment request is resent with the same
    Idempotency-Key after Retry-After, a few times, then the shopper is told to wait; polling
    slows down to Retry-After."""
    order = gw.client.order(50000)
    keys: list[str | None] = []
    polls: list[float] = []

    def refuse_first(times: int, retry_after: str,
                     seen: Callable[[Route], None] = lambda route: None) -> Callable[[Route], None]:
        left = [times]

        def handle(route: Route) -> None:
            seen(route)
            if left[0]:
                left[0] -= 1
                route.fulfill(status=429, headers={"Retry-After": retry_after},
                              content_type="application/json",
                              body='{"error":{"code":"RATE_LIMITED",'
                                   '"description":"Too many requests"}}')
            else:
                route.continue_()
        return handle

    order_reads: list[str] = []
    on_order = refuse_first(1, "1", lambda route: order_reads.append(route.request.url))
    on_post = refuse_first(4, "1", lambda route: keys.append(
        route.request.headers.get("idempotency-key")))
    on_poll = refuse_first(1, "2", lambda route: polls.append(time.monotonic()))
    page.route("**/api/v1/orders/*/public", on_order)
    page.route("**/api/v1/payments/public", on_post)
    page.route(re.compile(r"/api/v1/payments/pay_[A-Za-z0-9]+/public$"), on_poll)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    expect(page.locator(tid("order-amount"))).to_have_text("₹500.00")
    assert len(order_reads) == 2  # refused once, read again after Retry-After
    page.locator(tid("vpa-input")).fill("shopper@okbank")
    page.locator(pay_button()).click()
    expect(page.locator("#form-error")).to_contain_text("Too many attempts")
    assert len(keys) == 4 and len(set(keys)) == 1 and keys[0]

    page.locator(pay_button()).click()  # a new attempt: a new key, and it goes through
    expect(page.locator(tid("processing-message"))).to_contain_text("Still processing")
    expect(page.locator(tid("success-state"))).to_be_visible()
    assert len(keys) == 5 and keys[4] != keys[0]
    assert len(polls) >= 2 and polls[1] - polls[0] >= 1.9


def test_an_order_out_of_attempts_says_so_at_once(page: Page) -> None:
    """The gateway's cap on payments per order answers 429 with an hour's Retry-After: the
    page shows the server's reason instead of resending."""
    with running_gateway(test_payment_success=False, public_payment_attempts=1) as capped:
        order = capped.client.order(50000)
        page.goto(f"{capped.url}/checkout?order_id={order['id']}")
        page.locator(tid("vpa-input")).fill("shopper@okbank")
        page.locator(pay_button()).click()
        expect(page.locator(tid("error-state"))).to_be_visible()
        page.locator(tid("retry-button")).click()
        started = time.monotonic()
        page.locator(pay_button()).click()
        expect(page.locator("#form-error")).to_contain_text("the most payment attempts allowed")
        assert time.monotonic() - started < 5
        expect(page.locator(pay_button())).to_be_enabled()
