"""Time travel in the dashboard, in real Chromium: an object's timeline steps back and forth
through its states with the diagram following, and the state views count as of an instant
chosen with the page's datetime-local control. Fixtures: ``test_dashboard``'s gateway (payments
settle 2.5 s after creation) and browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from paystate.config import Settings
from tests.e2e import test_dashboard as dash
from tests.e2e.test_dashboard import browser, dash_settings, gw, page  # noqa: F401 (fixtures)
from tests.support import ThreadGateway

pytestmark = dash.pytestmark
expect = dash.sync_api.expect


def test_the_timeline_steps_through_a_payments_states_and_the_diagram_follows(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:  # noqa: F811
    op = dash.new_operator(dash_settings, gw.url)
    dash.login(page, op.email)
    payment = op.api.wait_payment(op.api.upi_payment(op.api.order(42000)["id"])["id"])
    assert payment["status"] == "success"
    assert op.api.post(f"/api/v1/payments/{payment['id']}/capture").status_code == 200
    history = op.api.get(f"/api/v1/payments/{payment['id']}/transitions").json()
    assert [t["trigger"] for t in history] == ["create", "succeed", "capture"]

    state = page.locator("[data-test-id=object-state]")
    current = page.locator("g.state.current")
    page.goto(f"/dashboard/states/payment/{payment['id']}")
    expect(current).to_have_attribute("data-state", "success")
    expect(page.locator("[data-test-id=state-object]")).to_contain_text("captured")

    # Back one change: successful, not captured yet; the page is history, not live.
    page.click("[data-test-id=step-previous]")
    page.wait_for_url("**as_of=*")
    expect(page.locator("[data-test-id=as-of-status]")).to_be_visible()
    expect(state).to_have_text("success")
    expect(page.locator("[data-test-id=state-object]")).not_to_contain_text("captured")
    expect(page.locator("tr.chosen [data-test-id=transition-trigger]")).to_have_text("succeed")

    # Back to its creation: pending, nothing before it.
    page.click("[data-test-id=step-previous]")
    expect(state).to_have_text("pending")
    expect(current).to_have_attribute("data-state", "pending")
    expect(page.locator("g.transition.taken")).to_have_count(0)
    expect(page.locator("[data-test-id=step-previous-none]")).to_be_visible()
    expect(page.locator("tr.chosen [data-test-id=transition-trigger]")).to_have_text("create")

    # Forward again, then straight to a row's instant, then back to now.
    page.click("[data-test-id=step-next]")
    expect(current).to_have_attribute("data-state", "success")
    expect(page.locator("g.transition.taken[data-from=pending][data-to=success]")).to_have_count(1)
    page.locator("[data-test-id=timeline-step]").first.click()
    expect(current).to_have_attribute("data-state", "pending")
    page.click("[data-test-id=step-now]")
    expect(page.locator("[data-test-id=live-status]")).to_have_attribute("data-state", "live")
    expect(current).to_have_attribute("data-state", "success")


def test_the_state_views_count_as_of_a_chosen_instant(
        page: Any, gw: ThreadGateway, dash_settings: Settings) -> None:  # noqa: F811
    op = dash.new_operator(dash_settings, gw.url)
    dash.login(page, op.email)
    payment = op.api.upi_payment(op.api.order(43000)["id"])
    op.api.wait_payment(payment["id"])
    created = datetime.fromisoformat(payment["created_at"]).astimezone(UTC)
    counts = page.locator("[data-machine=payment]")

    page.goto("/dashboard/states")
    expect(counts.locator("[data-count-for=success]")).to_have_text("1")
    # A second after its creation (it settles 2.5 s after), in the page's control (UTC).
    page.fill("[data-test-id=as-of-input]",
              (created + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.click("[data-test-id=as-of-button]")
    page.wait_for_url("**as_of=*")
    expect(page.locator("[data-test-id=as-of-status]")).to_be_visible()
    expect(counts.locator("[data-count-for=pending]")).to_have_text("1")
    expect(counts.locator("[data-count-for=success]")).to_have_text("0")

    before = (created - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    page.goto(f"/dashboard/states?as_of={before}")
    expect(counts.locator("[data-count-for=pending]")).to_have_text("0")
    expect(counts.locator("[data-count-for=success]")).to_have_text("0")
    page.click("[data-test-id=as-of-now]")
    expect(page.locator("[data-test-id=live-status]")).to_have_attribute("data-state", "live")
    expect(counts.locator("[data-count-for=success]")).to_have_text("1")
