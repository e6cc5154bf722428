"""What a shopper sees in the checkout, in real headless Chromium: the merchant's name and logo
(set on the dashboard's Settings page), the receipt instead of the order id, the UPI collect
countdown (on Playwright's page clock: minutes pass in milliseconds), the result in place of the
amount, a phone-sized sheet on a page wider than the phone, and a modal as tall as its content.
The modal's contract and its security: test_checkout_browser.py."""

# The fixtures live in checkout_support.py and are imported (a module's own fixtures win over
# any conftest's); test arguments then name them again, which is what F811 would flag.
# ruff: noqa: F811
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Browser, Frame, FrameLocator, Page, Route, expect

from tests.e2e.checkout_support import (  # noqa: F401 (fixtures)
    Console,
    browser,
    console,
    declining_gw,
    declining_shop,
    events,
    gw,
    new_page,
    open_checkout,
    page,
    pay_upi,
    shop,
    tid,
)
from tests.e2e.test_dashboard import PASSWORD, new_operator
from tests.support import ThreadGateway, wait_until

STATUS_POLL = re.compile(r"/api/v1/payments/pay_[A-Za-z0-9]+/public$")
COUNTDOWN = re.compile(r"^(\d+):(\d\d)$")


def seconds_left(frame: FrameLocator | Page) -> int:
    found = COUNTDOWN.match(frame.locator(tid("upi-countdown-time")).inner_text())
    assert found, "the countdown shows m:ss"
    return int(found.group(1)) * 60 + int(found.group(2))


def wait_on_page(page: Page, condition: Callable[[], bool], message: str) -> None:
    """Like wait_until, but lets Playwright run its route handlers while it waits (a bare
    sleep holds them, and with them the page's requests)."""
    for _ in range(200):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {message}")


def checkout_frame(page: Page, gw: ThreadGateway) -> Frame:
    return next(f for f in page.frames if f.url.startswith(gw.url + "/checkout"))


def keep_pending(shift: timedelta = timedelta(0)) -> Callable[[Route], None]:
    """A route handler: status polls answer "pending" (and ``created_at`` moved by ``shift``),
    whatever the payment really did."""
    def handle(route: Route) -> None:
        response = route.fetch()
        body = {**response.json(), "status": "pending"}
        created = datetime.fromisoformat(body["created_at"]) + shift
        body["created_at"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        route.fulfill(response=response, json=body)
    return handle


@pytest.fixture
def phone(browser: Browser, console: Console) -> Iterator[Page]:
    """A 375 px phone: mobile viewport rules, touch."""
    context = browser.new_context(viewport={"width": 375, "height": 720}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    p = context.new_page()
    p.on("pageerror", lambda e: console.page_errors.append(str(e)))
    try:
        yield p
    finally:
        context.close()
    assert not console.page_errors, console.page_errors


# -- whom the shopper pays ----------------------------------------------------------------------

def test_the_logo_set_on_the_dashboard_and_the_receipt_are_shown_never_the_order_id(
        page: Page, gw: ThreadGateway, shop: str, console: Console) -> None:
    operator = new_operator(gw.settings, gw.url)
    page.goto(f"{gw.url}/login")
    page.fill(tid("email-input"), operator.email)
    page.fill(tid("password-input"), PASSWORD)
    page.click(tid("login-button"))
    page.wait_for_url("**/dashboard")
    page.click("[data-test-id=dashboard-nav] >> text=Settings")
    page.wait_for_url("**/dashboard/settings")

    page.fill(tid("logo-url-input"), "http://shop.example/logo.png")  # https only
    page.click(tid("save-logo-button"))
    expect(page.locator(tid("settings-error"))).to_contain_text("https://")
    logo = f"{shop}/logo.svg"  # loopback http: allowed in TEST_MODE
    page.fill(tid("logo-url-input"), logo)
    page.click(tid("save-logo-button"))
    expect(page.locator(tid("settings-notice"))).to_contain_text("Logo saved")
    preview = page.locator(tid("logo-preview"))
    expect(preview).to_be_visible()
    wait_until(lambda: preview.evaluate("img => img.naturalWidth") == 96, 10, 0.05,
               "the dashboard's preview to load the logo (its CSP allows it)")
    profile = operator.api.get("/api/v1/merchant").json()
    assert profile["logo_url"] == logo

    order = operator.api.order(50000, receipt="INV-2024-0042")
    frame = open_checkout(page, shop, order["id"])
    expect(frame.locator(tid("merchant-name"))).to_have_text(profile["name"])
    shown = frame.locator(tid("merchant-logo"))
    expect(shown).to_be_visible()
    assert shown.evaluate("img => [img.naturalWidth, img.src]") == [96, logo]
    expect(frame.locator(tid("order-id"))).to_have_text("INV-2024-0042")
    text = frame.locator("body").inner_text()
    assert "INV-2024-0042" in text and order["id"] not in text and "order_" not in text
    assert order["id"] not in page.locator("body").inner_text()
    assert not [e for e in console.errors if "Content Security Policy" in e], console.errors

    # Without a receipt: no reference at all, and still no order id.
    bare = operator.api.order(50000)
    page.locator(tid("close-modal-button")).click()
    frame = open_checkout(page, shop, bare["id"])
    expect(frame.locator(tid("merchant-name"))).to_have_text(profile["name"])
    expect(frame.locator(tid("order-id"))).to_be_hidden()
    assert "order_" not in frame.locator("body").inner_text()


def test_without_a_logo_the_name_is_shown_alone(page: Page, gw: ThreadGateway,
                                                shop: str) -> None:
    name = gw.client.get("/api/v1/merchant").json()["name"]
    frame = open_checkout(page, shop, gw.client.order(50000)["id"])
    expect(frame.locator(tid("merchant-name"))).to_have_text(name)
    expect(frame.locator(tid("merchant-logo"))).to_be_hidden()


# -- UPI collect ----------------------------------------------------------------------------------

def test_upi_collect_counts_down_to_its_expiry_then_offers_a_new_attempt(
        page: Page, gw: ThreadGateway, shop: str) -> None:
    order = gw.client.order(50000)
    page.clock.install()
    frame = open_checkout(page, shop, order["id"])
    page.context.route(STATUS_POLL, keep_pending())
    pay_upi(frame)
    expect(frame.locator(tid("processing-message"))).to_have_text(
        "Approve the request in your UPI app")
    expect(frame.locator(tid("upi-countdown"))).to_be_visible()
    expect(frame.locator(tid("upi-countdown-time"))).to_have_text(re.compile(r"^(5:00|4:5\d)$"))
    first = seconds_left(frame)

    page.clock.fast_forward("01:00")
    expect(frame.locator(tid("upi-countdown-time"))).to_have_text(re.compile(r"^(4:00|3:5\d)$"))
    assert seconds_left(frame) <= first - 59
    page.clock.fast_forward("02:00")
    expect(frame.locator(tid("upi-countdown-time"))).to_have_text(re.compile(r"^(2:00|1:5\d)$"))

    page.clock.fast_forward("02:01")
    expect(frame.locator(tid("error-state"))).to_be_visible()
    expect(frame.locator(tid("error-message"))).to_contain_text("request expired")
    expect(frame.locator(tid("upi-countdown"))).to_be_hidden()
    assert page.evaluate("window.events") == []  # not a failure: nothing told the merchant
    frame.locator(tid("retry-button")).click()
    expect(frame.locator(tid("upi-form"))).to_be_visible()
    expect(frame.locator(tid("order-amount"))).to_be_visible()
    page.context.unroute_all(behavior="ignoreErrors")


def test_the_countdown_reads_created_at_so_a_reload_keeps_it(
        page: Page, gw: ThreadGateway) -> None:
    """After a reload the page follows the same payment again, counting from its created_at
    as the API gives it (moved two minutes back here, as if the reload came that late)."""
    order = gw.client.order(50000)
    page.goto(f"{gw.url}/checkout?order_id={order['id']}")
    polled: list[str] = []
    pending = keep_pending()
    late = keep_pending(timedelta(minutes=-2))

    def handle(route: Route) -> None:
        polled.append(route.request.url)
        (late if reloaded else pending)(route)

    def unpaid(route: Route) -> None:  # the payment really succeeded; the page must not know
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "status": "created"})

    reloaded = False
    page.route(STATUS_POLL, handle)
    page.route("**/api/v1/orders/*/public", unpaid)
    page.locator(tid("vpa-input")).fill("shopper@okbank")
    page.locator(tid("vpa-input")).press("Enter")
    expect(page.locator(tid("upi-countdown-time"))).to_have_text(re.compile(r"^(5:00|4:5\d)$"))
    wait_on_page(page, lambda: bool(polled), "a status poll")
    reloaded = True
    page.reload()
    expect(page.locator(tid("processing-state"))).to_be_visible()
    expect(page.locator(tid("upi-countdown-time"))).to_have_text(re.compile(r"^(3:00|2:5\d)$"))
    wait_on_page(page, lambda: len(set(polled)) == 1 and len(polled) >= 2,
                 "a poll of the same payment after the reload")
    page.unroute_all(behavior="ignoreErrors")  # polls still under way die with the page


# -- the result ---------------------------------------------------------------------------------

def test_the_result_replaces_the_amount_to_pay(page: Page, gw: ThreadGateway, shop: str,
                                               declining_shop: str,
                                               declining_gw: ThreadGateway) -> None:
    order = gw.client.order(50000)
    frame = open_checkout(page, shop, order["id"])
    amount = frame.locator(tid("order-amount"))
    expect(amount).to_be_visible()
    pay_upi(frame)
    expect(frame.locator(tid("success-state"))).to_be_visible()
    expect(amount).to_be_hidden()
    expect(frame.locator("text=Amount to pay")).to_be_hidden()
    expect(frame.locator("#paid-amount")).to_contain_text("₹500.00 paid")
    # ... right under the merchant's name, where the amount was.
    gap = frame.locator(tid("success-state")).evaluate(
        "el => el.getBoundingClientRect().top"
        " - document.querySelector('[data-test-id=order-summary]').getBoundingClientRect().bottom")
    assert 0 <= gap <= 40

    page.locator(tid("close-modal-button")).click()
    failing = declining_gw.client.order(50000)
    frame = open_checkout(page, declining_shop, failing["id"])
    pay_upi(frame)
    expect(frame.locator(tid("error-state"))).to_be_visible()
    expect(frame.locator(tid("order-amount"))).to_be_hidden()
    frame.locator(tid("retry-button")).click()
    expect(frame.locator(tid("order-amount"))).to_be_visible()


# -- the sheet's size ---------------------------------------------------------------------------

def test_the_iframe_is_as_tall_as_its_content(browser: Browser, console: Console,
                                              gw: ThreadGateway, shop: str) -> None:
    page = new_page(browser, console, height=1100)  # room for the card form too
    frame = open_checkout(page, shop, gw.client.order(50000)["id"])
    checkout = checkout_frame(page, gw)
    iframe = page.locator(tid("payment-iframe"))

    def heights() -> tuple[float, float]:
        content = checkout.evaluate("document.querySelector('.checkout')"
                                    ".getBoundingClientRect().height")
        return iframe.evaluate("f => f.getBoundingClientRect().height"), content

    wait_until(lambda: abs(heights()[0] - heights()[1]) <= 1, 10, 0.05,
               "the iframe to take its content's height")
    upi_height = heights()[0]
    assert upi_height < 640
    frame.locator(tid("method-card")).click()  # a taller form: the iframe grows with it
    wait_until(lambda: abs(heights()[0] - heights()[1]) <= 1 and heights()[0] > upi_height,
               10, 0.05, "the iframe to grow with the card form")


def test_on_a_phone_the_sheet_fits_the_screen_of_a_page_wider_than_it(
        phone: Page, gw: ThreadGateway, shop: str) -> None:
    open_checkout(phone, shop, gw.client.order(50000)["id"], wide="1")
    assert phone.evaluate("document.documentElement.scrollWidth") >= 1200
    close = phone.locator(tid("close-modal-button"))
    inside = """el => {
        const r = el.getBoundingClientRect(), v = window.visualViewport;
        return [r.left >= v.offsetLeft - 0.5, r.right <= v.offsetLeft + v.width + 0.5,
                r.top >= v.offsetTop - 0.5, r.bottom <= v.offsetTop + v.height + 0.5];
    }"""
    assert close.evaluate(inside) == [True, True, True, True]
    sheet = phone.locator(".modal-content").evaluate(
        "el => [el.getBoundingClientRect().width, window.visualViewport.width]")
    assert abs(sheet[0] - sheet[1]) <= 1
    # Scrolled sideways on the wide page, the sheet follows the screen.
    phone.evaluate("window.scrollTo(600, 0)")
    wait_until(lambda: close.evaluate(inside) == [True, True, True, True], 10, 0.05,
               "the close button to stay on the screen")
    box = close.bounding_box()
    assert box is not None
    phone.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(phone.locator(tid("payment-modal"))).to_have_count(0)
    assert events(phone, 1) == [{"type": "close", "data": None}]
