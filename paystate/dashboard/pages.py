"""The dashboard's pages and forms. Thin: read through the bridges, render a template.

Forms post back and redirect (post/redirect/get); a refused form re-renders its page with the
reason. Notices after a redirect are chosen from a fixed list by key, never echoed from the URL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ..engine.bridge import rate
from ..http import inputs
from ..http.errors import ApiError
from ..http.handlers.checkout import IMG_SRC, TEST_IMG_SRC, logo_url
from ..machines.endpoints import FORMATS, MAX_ENDPOINTS
from ..machines.errors import DomainError
from ..machines.history import Step, instants
from ..machines.payment import PAYMENT
from ..machines.refund import REFUND
from ..machines.webhook import WEBHOOK_DELIVERY
from . import snippets
from .base import DashboardHandler, csp_with_images
from .diagram import Graph, graph_of, mermaid, svg
from .filters import date_range
from .lists import linker, page_number, pages_of
from .views import DELIVERY_STATUSES, MACHINE_TITLES, PAYMENT_STATUSES, URL_MACHINES, minute_chart

PAGE_SIZE = 20
WEBHOOK_PAGE_SIZE = 10
NOTICES = {
    "saved": "Webhook URL saved.",
    "removed": "Webhook URL removed: no deliveries will be made.",
    "secret": "A new webhook secret was generated. Deliveries sign with it from their next"
              " attempt.",
    "test": "A webhook.test delivery was sent; its first attempt is in the log below.",
    "retry": "Retry scheduled: the delivery's attempts start again from zero.",
}
#: The Endpoints section's notices after its forms' redirects (``endpoints.py``).
ENDPOINT_NOTICES = {
    "endpoint_saved": "Endpoint saved.",
    "endpoint_disabled": "Endpoint disabled: no attempt is made to it until it is enabled.",
    "endpoint_enabled": "Endpoint enabled: deliveries kept while it was disabled are due now.",
    "endpoint_deleted": "Endpoint deleted: it gets no new events; its deliveries keep their"
                        " history.",
}
#: What the Endpoints section shows besides the list, unless a form's answer says otherwise:
#: ``notice``/``error`` (a refusal's reason), ``form`` (the refused form's values, to show
#: again), ``open_id`` (the endpoint whose panel is open), ``revealed`` (the endpoint row just
#: made or rolled, its secret shown this once), ``test`` (a test delivery and its endpoint),
#: ``recovered`` (how many deliveries of ``open_id`` were sent again), ``confirm_delete``.
ENDPOINT_VIEW: dict[str, Any] = {
    "notice": None, "error": None, "form": None, "open_id": None, "revealed": None,
    "test": None, "recovered": None, "confirm_delete": None}
SETTINGS_NOTICES = {
    "logo": "Logo saved: your checkout shows it from the next page it opens.",
    "logo_removed": "Logo removed: your checkout shows your name alone.",
}
GRAPHS: dict[str, Graph] = {spec.name: graph_of(spec)
                            for spec in (PAYMENT, REFUND, WEBHOOK_DELIVERY)}
DIAGRAMS = {name: svg(g) for name, g in GRAPHS.items()}
MERMAID = {name: mermaid(g) for name, g in GRAPHS.items()}


class SeedAddressHandler(DashboardHandler):
    """``/dashboard.html``, where the seed served its dashboard (a page of webhook settings and
    logs): bookmarks and the seed's checkers land on the webhooks page, which asks an anonymous
    visitor to sign in as every page does."""

    login_required = False

    async def prepare(self) -> None:
        pass  # a redirect needs no session: nothing to read

    def get(self) -> None:
        self.redirect("/dashboard/webhooks")


class LoginHandler(DashboardHandler):
    login_required = False
    #: Where a signed-in visitor goes, and the only paths ``next`` may name (the operator
    #: console's sign-in sets "/ops").
    home = "/dashboard"

    def get(self) -> None:
        if self.signed_in():
            self.redirect(self.home)
            return
        self.render_page("login.html", error=None, email="",
                         logged_out=self.get_query_argument("logged_out", "") == "1",
                         next=self._next())

    def _next(self) -> str:
        target = self.get_argument("next", self.home)
        # Only a dashboard path: never an open redirect to another site.
        ok = target.startswith(self.home) and "//" not in target and "\\" not in target
        return target if ok else self.home

    async def submit(self) -> None:
        email = self.get_body_argument("email", "").strip()[:254]
        password = self.get_body_argument("password", "")[:1024]
        retry_after = await self._throttled(email)
        if retry_after is not None:
            self.set_status(429)
            self.set_header("Retry-After", str(retry_after))
            self.render_page("login.html", email=email, logged_out=False, next=self._next(),
                             error=f"Too many sign-in attempts. Try again in {retry_after} s.")
            return
        found = await self.sign_in(email, password) if email and password else None
        if found is None:
            await self.slow_refusal()
            self.set_status(401)
            self.render_page("login.html", error="Invalid email or password.", email=email,
                             logged_out=False, next=self._next())
            return
        # A session this browser still had (another merchant's, say) does not linger.
        await self.end_session()
        self.start_session(found[1])
        self.redirect(self._next())

    async def sign_in(self, email: str, password: str) -> tuple[object, str] | None:
        """Who signed in and their new session's token, or None."""
        return await self.dashboard.login(email, password)

    async def _throttled(self, email: str) -> int | None:
        """Seconds to wait if this address or this email used up its sign-in attempts (every
        attempt counts, in the limits all processes share), else None. Where the shared count
        cannot be kept (Redis down, or none configured), this process counts alone: the limit
        fails closed, since failing open would hand out unlimited password guesses."""
        limit = rate(self.deps.settings.dashboard_login_rate_limit)
        checks = [(limit, "login-client", self.request.remote_ip or "-"),
                  (limit, "login-email", email.lower())]
        local = self.deps.guards.local
        shared = self.deps.engine.shared_limits
        if shared is None:
            return local.acquire_all(checks)
        return await shared.acquire(checks, fallback=local)


class LogoutHandler(DashboardHandler):
    login_required = False

    def check_xsrf_cookie(self) -> None:
        # Already signed out (another tab logged out first): there is nothing to end, and so
        # nothing to forge; the stale tab lands on /login instead of a 403.
        if self.session_token is not None:
            super().check_xsrf_cookie()

    async def submit(self) -> None:
        await self.end_session()
        self.redirect(self.login_path + "?logged_out=1")


class HomeHandler(DashboardHandler):
    async def get(self) -> None:
        merchant = self.me()
        secret = await self.dashboard.shown_api_secret(merchant)
        stats = await self.dashboard.stats(merchant)
        since, rows = await self.dashboard.last_hour(merchant)
        self.render_page("home.html", active="home", api_secret=secret, stats=stats,
                         chart=minute_chart(since, rows), rolled=None)


class KeyRollHandler(DashboardHandler):
    """The home page's roll button: a new secret for the key of the mode shown, displayed
    once on the page it answers with (POST, the dashboard's XSRF token)."""

    async def submit(self) -> None:
        merchant = self.me()
        hours_text = self.get_body_argument("expires_in_hours", "24").strip() or "24"
        if not hours_text.isdigit() or int(hours_text) > 168:
            raise ApiError(400, "BAD_REQUEST_ERROR", "expires_in_hours must be from 0 to 168")
        rolled = await self.engine.roll_key(merchant, "live" if merchant.livemode else "test",
                                            int(hours_text))
        merchant = replace(merchant, api_key=rolled["api_key"])
        self.visitor = merchant
        stats = await self.dashboard.stats(merchant)
        since, rows = await self.dashboard.last_hour(merchant)
        self.render_page("home.html", active="home", api_secret=None, stats=stats,
                         chart=minute_chart(since, rows), rolled=rolled)


class TransactionsHandler(DashboardHandler):
    async def get(self) -> None:
        status = self.get_query_argument("status", "")
        status = status if status in PAYMENT_STATUSES else ""
        search = self.get_query_argument("q", "").strip()[:64]
        dates = date_range(self.get_query_argument("from", ""),
                           self.get_query_argument("to", ""))
        page = page_number(self.get_query_argument("page", None))
        payments, total = await self.dashboard.payments(
            self.me(), status=status or None, search=search or None, limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE, window=dates.window)
        self.render_page("transactions.html", active="transactions", payments=payments,
                         total=total, status=status, search=search, page=page,
                         pages=pages_of(total, PAGE_SIZE), statuses=PAYMENT_STATUSES,
                         dates=dates, export="/dashboard/transactions.csv?"
                         + urlencode(dates.query()),
                         link=linker("/dashboard/transactions",
                                     {"status": status, "q": search, **dates.query()}))


class WebhooksHandler(DashboardHandler):
    async def get(self) -> None:
        key = self.get_query_argument("notice", "")
        # ``?delete=we_...``: the delete button's confirm step, a POST form on this page.
        delete_id = self.get_query_argument("delete", "")
        confirm = (await self.webhooks.endpoints.get(self.me(), delete_id)
                   if delete_id else None)
        await self.show(notice=NOTICES.get(key), panel={
            "notice": ENDPOINT_NOTICES.get(key), "confirm_delete": confirm})

    async def show(self, notice: str | None = None, error: str | None = None,
                   url_value: str | None = None, panel: dict[str, Any] | None = None) -> None:
        """The page; ``panel`` overrides ``ENDPOINT_VIEW`` for the Endpoints section."""
        merchant = self.me()
        profile = await self.webhooks.profile(merchant)
        page = page_number(self.get_query_argument("page", None))
        status = self.get_query_argument("status", "")
        status = status if status in DELIVERY_STATUSES else ""
        rows, total = await self.dashboard.deliveries(
            merchant, status=status or None, limit=WEBHOOK_PAGE_SIZE,
            offset=(page - 1) * WEBHOOK_PAGE_SIZE)
        attempts = await self.dashboard.attempts_of([str(r["id"]) for r in rows])
        endpoints = await self.webhooks.endpoints.list(merchant)
        health = await self.webhooks.endpoints.health(merchant)
        self.render_page("webhooks.html", active="webhooks", profile=profile, deliveries=rows,
                         attempts=attempts, total=total, page=page, status=status,
                         statuses=DELIVERY_STATUSES,
                         link=linker("/dashboard/webhooks", {"status": status}),
                         pages=pages_of(total, WEBHOOK_PAGE_SIZE), notice=notice,
                         error=error, url_value=(profile["webhook_url"] or "")
                         if url_value is None else url_value, endpoints=endpoints,
                         health=health, formats=FORMATS, max_endpoints=MAX_ENDPOINTS,
                         panel={**ENDPOINT_VIEW, **(panel or {})})

    async def submit(self) -> None:
        """Save (or, empty, remove) the webhook URL."""
        url = self.get_body_argument("webhook_url", "").strip()
        if len(url) > 2048:
            await self.refuse("The URL must be at most 2048 characters.", url[:2048])
            return
        try:
            await self.webhooks.set_webhook_url(self.me(), url or None)
        except DomainError as exc:
            await self.refuse(exc.message, url)
            return
        self.redirect("/dashboard/webhooks?notice=" + ("saved" if url else "removed"))

    async def refuse(self, error: str, url_value: str | None = None) -> None:
        self.set_status(400)
        await self.show(error=error, url_value=url_value)


class WebhookSecretHandler(WebhooksHandler):
    async def submit(self) -> None:
        await self.webhooks.rotate_secret(self.me())
        self.redirect("/dashboard/webhooks?notice=secret")


class WebhookTestHandler(WebhooksHandler):
    async def submit(self) -> None:
        try:
            await self.webhooks.send_test(self.me())
        except DomainError as exc:
            await self.refuse(exc.message)
            return
        self.redirect("/dashboard/webhooks?notice=test")


class WebhookRetryHandler(WebhooksHandler):
    async def submit(self, delivery_id: str) -> None:  # type: ignore[override]
        await self.webhooks.retry(self.me(), delivery_id)
        self.redirect("/dashboard/webhooks?notice=retry")


class SettingsHandler(DashboardHandler):
    """``/dashboard/settings``: what the hosted checkout shows of the merchant (its name, and
    the logo URL set here, checked by the same rule as ``PUT /api/v1/merchant/logo``)."""

    async def get(self) -> None:
        await self.show(notice=SETTINGS_NOTICES.get(self.get_query_argument("notice", "")))

    async def show(self, notice: str | None = None, error: str | None = None,
                   logo_value: str | None = None) -> None:
        profile = await self.webhooks.profile(self.me())
        test_mode = self.deps.settings.test_mode
        self.set_header("Content-Security-Policy",
                        csp_with_images(TEST_IMG_SRC if test_mode else IMG_SRC))
        self.render_page("settings.html", active="settings", profile=profile, notice=notice,
                         error=error, logo_value=(profile["logo_url"] or "")
                         if logo_value is None else logo_value)

    async def submit(self) -> None:
        """Save (or, empty, remove) the checkout logo's URL."""
        value = self.get_body_argument("logo_url", "")
        try:
            url = logo_url(value, test_mode=self.deps.settings.test_mode)
        except ApiError as exc:
            self.set_status(400)
            await self.show(error=exc.description, logo_value=value[:2048])
            return
        await self.webhooks.set_logo_url(self.me(), url)
        self.redirect("/dashboard/settings?notice=" + ("logo" if url else "logo_removed"))


class DocsHandler(DashboardHandler):
    def get(self) -> None:
        base = f"{self.request.protocol}://{self.request.host}"
        self.render_page("docs.html", active="docs",
                         sections=snippets.sections(base, self.me().api_key))


class StatesHandler(DashboardHandler):
    """The diagrams with the count in each state: live, or as they stood at ``?as_of=``
    (ISO 8601; without an offset, UTC: what the page's datetime-local control sends)."""

    async def get(self) -> None:
        as_of = _as_of(self)
        counts = await (self.dashboard.state_counts(self.me()) if as_of is None
                        else self.dashboard.state_counts_as_of(self.me(), as_of))
        machines = [(name, MACHINE_TITLES[name], DIAGRAMS[name], MERMAID[name], GRAPHS[name])
                    for name in GRAPHS]
        self.render_page("states.html", active="states", machines=machines, counts=counts,
                         as_of=as_of)

def _as_of(handler: DashboardHandler) -> datetime | None:
    return inputs.query_instant(handler.get_query_argument("as_of", None), "as_of",
                                naive_utc=True)


class StateObjectHandler(DashboardHandler):
    """An object's diagram and transition timeline, live, or as it stood at ``?as_of=``:
    each instant it changed is a link, with the previous and next one beside the state."""

    async def get(self, kind: str, object_id: str) -> None:
        machine = URL_MACHINES[kind]
        as_of = _as_of(self)
        row, history = await self.dashboard.timeline(self.me(), machine, object_id, as_of)
        changes = instants([Step.of(t) for t in history])
        # The instant shown: the last change at or before as_of (live: the last one).
        chosen = (len(changes) - 1 if as_of is None
                  else max(i for i, at in enumerate(changes) if at <= as_of))
        self.render_page("state_object.html", active="states", kind=kind, machine=machine,
                         title=MACHINE_TITLES[machine], row=row, history=history,
                         diagram=DIAGRAMS[machine], graph=GRAPHS[machine],
                         state=row["status"], object_id=str(row["id"]), as_of=as_of,
                         shown_until=changes[chosen] if as_of is not None else None,
                         previous=changes[chosen - 1] if chosen > 0 else None,
                         following=changes[chosen + 1] if chosen + 1 < len(changes) else None)

