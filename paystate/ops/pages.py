"""The console's pages and forms: sign-in, the overview (live over server-sent events), the
merchants, one merchant with its actions, and the audit log. Thin: read through the ops
bridge, render a template; forms post back and redirect with a notice chosen by key."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from tornado.iostream import StreamClosedError

from ..dashboard import pages as dashboard_pages
from ..engine.ops_bridge import parse_since
from ..http import inputs
from ..http.errors import ApiError
from ..machines.errors import DomainError
from .base import ActionHandler, OpsHandler

MODES = {"test": False, "live": True}
STATUSES = ("active", "suspended")
#: How often an open overview gets fresh figures (they are cached for a second per process).
OVERVIEW_EVERY_S = 2.0
AUDIT_PAGE = 50
NOTICES = {
    "suspended": "The merchant is suspended: its API keys answer 403 ACCOUNT_SUSPENDED.",
    "reinstated": "The merchant is reinstated: its keys work again.",
    "disabled": "The endpoint is disabled.",
    "enabled": "The endpoint is enabled; its kept deliveries are due again.",
    "retried": "The delivery's attempts start again from zero.",
    "recovered": "The endpoint's failed deliveries since that time are sent again.",
}


def mode_of(handler: OpsHandler) -> tuple[str, bool | None]:
    """``?mode=test|live``, else both modes."""
    name = handler.get_query_argument("mode", "all")
    return (name, MODES[name]) if name in MODES else ("all", None)


class LoginHandler(OpsHandler, dashboard_pages.LoginHandler):
    """The dashboard's sign-in form and flow, for operators."""

    home = "/ops"

    async def sign_in(self, email: str, password: str) -> tuple[object, str] | None:
        return await self.ops.login(email, password)

    async def _throttled(self, email: str) -> int | None:
        return await self.throttled(email)


class LogoutHandler(OpsHandler, dashboard_pages.LogoutHandler):
    pass


class OverviewHandler(OpsHandler):
    """The overview, live; with ``?as_of=`` (ISO, or a datetime-local value read as UTC) the
    counts per state as they stood then, rebuilt from the transitions."""

    async def get(self) -> None:
        mode, livemode = mode_of(self)
        as_of = inputs.query_instant(self.get_query_argument("as_of", None), "as_of",
                                     naive_utc=True)
        if as_of is not None:
            self.render_page("overview_as_of.html", active="overview", mode=mode, as_of=as_of,
                             figures=await self.ops.overview_as_of(as_of, livemode))
            return
        figures = await self.ops.overview(livemode)
        self.render_page("overview.html", active="overview", mode=mode, figures=figures)


class OverviewEventsHandler(OpsHandler):
    """``text/event-stream`` of ``overview`` messages (the figures) every
    ``OVERVIEW_EVERY_S``, as the dashboard's state views stream their counts."""

    page = False
    counts_in_flight = False

    async def get(self) -> None:
        _, livemode = mode_of(self)
        self.gone = asyncio.Event()
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("X-Accel-Buffering", "no")
        self.write("retry: 2000\n\n")
        try:
            while not self.gone.is_set():
                figures = await self.ops.overview(livemode)
                self.write(f"event: overview\ndata: {json.dumps(figures, default=str)}\n\n")
                await self.flush()
                try:
                    await asyncio.wait_for(self.gone.wait(), OVERVIEW_EVERY_S)
                except TimeoutError:
                    pass
        except StreamClosedError:
            pass
        if not self._finished:
            self.finish()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        gone = getattr(self, "gone", None)
        if gone is not None:
            gone.set()


class MerchantsHandler(OpsHandler):
    async def get(self) -> None:
        query = self.get_query_argument("q", "").strip()[:100]
        status = self.get_query_argument("status", "")
        status = status if status in STATUSES else ""
        rows = await self.ops.merchants(query, status)
        self.render_page("merchants.html", active="merchants", merchants=rows, q=query,
                         status=status, statuses=STATUSES)


class MerchantHandler(OpsHandler):
    async def get(self, merchant_id: str) -> None:
        await self.show(merchant_id, NOTICES.get(self.get_query_argument("notice", "")))

    async def show(self, merchant_id: str, notice: str | None = None,
                   error: str | None = None) -> None:
        detail = await self.ops.merchant(merchant_id)
        history, _ = await self.ops.audit(10, None, f"merchant:{detail['merchant']['id']}")
        self.render_page("merchant.html", active="merchants", notice=notice, error=error,
                         history=history, **detail)


class MerchantAction(ActionHandler):
    """``/ops/merchants/{id}/suspend|reinstate``."""

    async def act(self, merchant_id: str, action: str) -> None:  # type: ignore[override]
        if action == "suspend":
            await self.ops.suspend(self.me(), merchant_id)
        else:
            await self.ops.reinstate(self.me(), merchant_id)
        self.redirect(_back(merchant_id, "suspended" if action == "suspend" else "reinstated"))


class EndpointAction(ActionHandler):
    """``/ops/merchants/{id}/endpoints/{endpoint}/disable|enable|recover``."""

    async def act(self, merchant_id: str, endpoint_id: str,  # type: ignore[override]
                  action: str) -> None:
        if action == "recover":
            try:
                since = parse_since(self.get_body_argument("since", "").strip())
            except DomainError as exc:
                raise ApiError(400, exc.code, exc.message) from None
            await self.ops.recover(self.me(), merchant_id, endpoint_id, since)
            self.redirect(_back(merchant_id, "recovered"))
            return
        await self.ops.set_endpoint_disabled(self.me(), merchant_id, endpoint_id,
                                             action == "disable")
        self.redirect(_back(merchant_id, "disabled" if action == "disable" else "enabled"))


class DeliveryRetry(ActionHandler):
    """``/ops/merchants/{id}/deliveries/{delivery}/retry``."""

    async def act(self, merchant_id: str, delivery_id: str) -> None:  # type: ignore[override]
        await self.ops.retry(self.me(), merchant_id, delivery_id)
        self.redirect(_back(merchant_id, "retried"))


class AuditHandler(OpsHandler):
    async def get(self) -> None:
        raw = self.get_query_argument("before", "")
        before = int(raw) if raw.isdigit() and 0 < int(raw) < 2**62 else None
        rows, next_before = await self.ops.audit(AUDIT_PAGE, before)
        self.render_page("audit.html", active="audit", rows=rows, next_before=next_before)


def _back(merchant_id: str, notice: str) -> str:
    return f"/ops/merchants/{quote(merchant_id)}?notice={notice}"
