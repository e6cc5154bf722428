"""The dashboard's pages and forms. Thin: read through the bridges, render a template.

Forms post back and redirect (post/redirect/get); a refused form re-renders its page with the
reason. Notices after a redirect are chosen from a fixed list by key, never echoed from the URL.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from ..engine.bridge import rate
from ..http.errors import ApiError
from ..machines.errors import DomainError
from ..machines.payment import PAYMENT
from ..machines.refund import REFUND
from ..machines.webhook import WEBHOOK_DELIVERY
from . import snippets
from .base import DashboardHandler
from .diagram import Graph, graph_of, mermaid, svg
from .views import MACHINE_TITLES, PAYMENT_STATUSES, URL_MACHINES, minute_chart

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
GRAPHS: dict[str, Graph] = {spec.name: graph_of(spec)
                            for spec in (PAYMENT, REFUND, WEBHOOK_DELIVERY)}
DIAGRAMS = {name: svg(g) for name, g in GRAPHS.items()}
MERMAID = {name: mermaid(g) for name, g in GRAPHS.items()}


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 10**6 else 1


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
        page = _page_number(self.get_query_argument("page", None))
        payments, total = await self.dashboard.payments(
            self.me(), status=status or None, search=search or None, limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))

        def link(n: int) -> str:
            query = {k: v for k, v in (("status", status), ("q", search)) if v}
            return "/dashboard/transactions?" + urlencode({**query, "page": n})

        self.render_page("transactions.html", active="transactions", payments=payments,
                         total=total, status=status, search=search, page=page, pages=pages,
                         statuses=PAYMENT_STATUSES, link=link)


class WebhooksHandler(DashboardHandler):
    async def get(self) -> None:
        notice = NOTICES.get(self.get_query_argument("notice", ""))
        await self.show(notice=notice)

    async def show(self, notice: str | None = None, error: str | None = None,
                   url_value: str | None = None) -> None:
        merchant = self.me()
        profile = await self.webhooks.profile(merchant)
        page = _page_number(self.get_query_argument("page", None))
        rows, total = await self.webhooks.deliveries(merchant, WEBHOOK_PAGE_SIZE,
                                                     (page - 1) * WEBHOOK_PAGE_SIZE)
        attempts = await self.dashboard.attempts_of([str(r["id"]) for r in rows])
        self.render_page("webhooks.html", active="webhooks", profile=profile, deliveries=rows,
                         attempts=attempts, total=total, page=page,
                         pages=max(1, -(-total // WEBHOOK_PAGE_SIZE)), notice=notice,
                         error=error, url_value=(profile["webhook_url"] or "")
                         if url_value is None else url_value)

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


class DocsHandler(DashboardHandler):
    def get(self) -> None:
        base = f"{self.request.protocol}://{self.request.host}"
        self.render_page("docs.html", active="docs",
                         sections=snippets.sections(base, self.me().api_key))


class StatesHandler(DashboardHandler):
    async def get(self) -> None:
        counts = await self.dashboard.state_counts(self.me())
        machines = [(name, MACHINE_TITLES[name], DIAGRAMS[name], MERMAID[name], GRAPHS[name])
                    for name in GRAPHS]
        self.render_page("states.html", active="states", machines=machines, counts=counts)


class StateObjectHandler(DashboardHandler):
    async def get(self, kind: str, object_id: str) -> None:
        machine = URL_MACHINES[kind]
        row, history = await self.dashboard.timeline(self.me(), machine, object_id)
        self.render_page("state_object.html", active="states", kind=kind, machine=machine,
                         title=MACHINE_TITLES[machine], row=row, history=history,
                         diagram=DIAGRAMS[machine], graph=GRAPHS[machine],
                         state=row["status"], object_id=str(row["id"]))

