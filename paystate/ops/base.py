"""The console's handler base: the dashboard's (forms, XSRF in two layers, security headers,
HTML errors) with its own session cookie (``paystate_ops_session``), sign-in cookie and XSRF
purpose, so a merchant's dashboard cookie opens nothing here and an operator's opens nothing
on ``/dashboard``. A viewer sees every page; a changing form (``ActionHandler``) answers a
viewer 403 before it calls the engine.
"""

from __future__ import annotations

import os
from typing import Any

from tornado import template

from ..dashboard import session
from ..dashboard.base import TEMPLATES as DASHBOARD_TEMPLATES
from ..dashboard.base import DashboardHandler
from ..engine.bridge import rate
from ..engine.ops_bridge import Operator, OpsBridge
from ..http.errors import ApiError

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static")
COOKIE = "paystate_ops_session"
LOGIN = "paystate_ops_login"


#: The console's words on the pages it shares with the dashboard (sign-in, error).
FRONT = {"heading": "Paystate operations", "lead": "Sign in with your operator account.",
         "title": "Operator sign-in", "login_action": "/ops/login",
         "login_form": "ops-login-form", "home": "/ops", "back": "Back to the console"}


class _ConsoleLoader(template.Loader):
    """The console's templates, then the dashboard's: the sign-in and error pages are the
    dashboard's own, in the console's words (``FRONT``); a shared page's ``{% extends
    "layout.html" %}`` finds the console's layout first."""

    def _create_template(self, name: str) -> template.Template:
        if os.path.exists(os.path.join(self.root, name)):
            return super()._create_template(name)
        with open(os.path.join(DASHBOARD_TEMPLATES, name), "rb") as f:
            return template.Template(f.read(), name=name, loader=self)


class OpsHandler(DashboardHandler):
    front = FRONT
    login_path = "/ops/login"
    login_cookie = LOGIN
    xsrf_scope = "ops-"

    def initialize(self, deps: Any) -> None:
        super().initialize(deps)
        #: The signed-in operator (set by ``prepare``), None for an anonymous visitor.
        self.operator: Operator | None = None

    @property
    def ops(self) -> OpsBridge:
        bridge: OpsBridge = self.deps.extras["ops"]
        return bridge

    @property
    def cookie_secret(self) -> str:
        return self.ops.cookie_secret

    def get_template_path(self) -> str:
        return TEMPLATES

    def create_template_loader(self, template_path: str) -> template.BaseLoader:
        return _ConsoleLoader(template_path)

    async def prepare(self) -> None:
        # The API's base (body budget, metrics), not the dashboard's merchant session.
        await super(DashboardHandler, self).prepare()
        token = self.get_cookie(session.cookie_name(COOKIE, self.https))
        if token:
            self.operator = await self.ops.session(token)
            self.session_token = token if self.operator is not None else None

    def signed_in(self) -> bool:
        return self.operator is not None

    def me(self) -> Operator:  # type: ignore[override]
        assert self.operator is not None, "only signed-in operators get this far"
        return self.operator

    def start_session(self, token: str) -> None:
        hours = self.deps.settings.dashboard_session_hours
        self.set_cookie(session.cookie_name(COOKIE, self.https), token, httponly=True,
                        samesite="Lax", secure=self.https, expires_days=hours / 24, path="/")

    async def end_session(self) -> None:
        if self.session_token is not None:
            await self.ops.logout(self.session_token)
            self.session_token = None
        for name in (COOKIE, LOGIN):
            self.clear_cookie(session.cookie_name(name, self.https), path="/",
                              secure=self.https, httponly=True)

    def render_page(self, template: str, **kw: Any) -> None:
        self.render(template, operator=self.operator, xsrf=self.xsrf_token.decode(), **kw)

    def render_error(self, err: ApiError, body: Any) -> None:
        if not self.page:
            super().render_error(err, body)
            return
        self.render("error.html", operator=self.operator, status=err.status,
                    description=err.description, xsrf="")

    async def throttled(self, email: str) -> int | None:
        """Seconds to wait if this address or this email used up its sign-in attempts, else
        None: the dashboard's limit (``DASHBOARD_LOGIN_RATE_LIMIT``), counted apart, failing
        closed to this process's own count when Redis cannot keep it."""
        limit = rate(self.deps.settings.dashboard_login_rate_limit)
        checks = [(limit, "ops-login-client", self.request.remote_ip or "-"),
                  (limit, "ops-login-email", email.lower())]
        shared = self.deps.engine.shared_limits
        if shared is None:
            return self.deps.guards.local.acquire_all(checks)
        return await shared.acquire(checks, fallback=self.deps.guards.local)


class ActionHandler(OpsHandler):
    """A form that changes something: admins only (a viewer: 403, nothing called). The
    handler's ``act`` does the work once the XSRF token and the role checked out."""

    async def submit(self, *args: str) -> None:
        if not self.me().may_change:
            raise ApiError(403, "FORBIDDEN", "A viewer cannot change anything")
        await self.act(*args)

    async def act(self, *args: str) -> None:
        raise NotImplementedError
