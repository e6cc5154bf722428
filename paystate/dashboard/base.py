"""The dashboard's base handler: session, XSRF, security headers, HTML or JSON errors.

Pages answer an anonymous visitor with a redirect to ``/login``; data calls (``page = False``)
with 401 in the contract's envelope. Every POST must carry Tornado's XSRF token (the ``_xsrf``
form field or the ``X-XSRFToken`` header) matching the ``_xsrf`` cookie; the check runs here
rather than through the Application's ``xsrf_cookies`` setting, which would also demand tokens
from the merchant API's POSTs.

Bodies are streamed: at most ``MAX_FORM_BYTES`` of a form is held in memory, and anything
longer is drained and answered 413, so nobody (signed in or not) can make the process hold a
large body. ``post`` parses the form, checks the XSRF token, then calls the handler's ``submit``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import quote

from tornado.httputil import parse_body_arguments
from tornado.web import HTTPError, RequestHandler, stream_request_body

from ..engine.dashboard_bridge import DashboardBridge
from ..engine.merchants import Merchant
from ..engine.webhooks.bridge import WebhookBridge
from ..http.base import Deps, dumps, strict_transport
from ..http.errors import ApiError, to_error
from . import session
from .views import HELPERS

log = logging.getLogger(__name__)

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static")
#: Dashboard forms are small; anything bigger is refused before it is parsed.
MAX_FORM_BYTES = 64 * 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
       " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self';"
       " object-src 'none'")


@stream_request_body
class DashboardHandler(RequestHandler):
    #: False for data calls: JSON answers, 401 instead of a redirect.
    page = True
    #: False for the login page itself.
    login_required = True

    merchant: Merchant | None

    def initialize(self, deps: Deps) -> None:
        self.deps = deps
        self.merchant = None
        self._form: list[bytes] = []
        self._form_size = 0

    @property
    def dashboard(self) -> DashboardBridge:
        bridge: Any = self.deps.extras["dashboard"]
        return bridge

    @property
    def webhooks(self) -> WebhookBridge:
        bridge: Any = self.deps.extras["webhooks"]
        return bridge

    @property
    def settings(self) -> dict[str, Any]:
        # The XSRF cookie is read by the server only (pages carry the token in a form field or
        # a meta tag), so it can be HttpOnly and SameSite=Strict.
        return {**self.application.settings,
                "xsrf_cookie_kwargs": {"httponly": True, "samesite": "Strict", "path": "/",
                                       "secure": self.request.protocol == "https"}}

    def get_template_path(self) -> str:
        return TEMPLATES

    def get_template_namespace(self) -> dict[str, Any]:
        return {**super().get_template_namespace(), **HELPERS, "active": None}

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")
        strict_transport(self)

    async def prepare(self) -> None:
        found = session.read(self.dashboard.cookie_secret,
                             self.deps.settings.dashboard_session_hours,
                             self.get_cookie(session.COOKIE))
        if found is not None:
            self.merchant = await self.dashboard.session(*found)
        if self.login_required and self.merchant is None:
            if self.page:
                self.redirect("/login?next=" + quote(self.request.path, safe="/"))
                return
            raise ApiError(401, "AUTHENTICATION_ERROR", "Login required")

    def data_received(self, chunk: bytes) -> None:
        self._form_size += len(chunk)
        if self._form_size <= MAX_FORM_BYTES:
            self._form.append(chunk)
        else:
            self._form.clear()

    async def post(self, *args: str) -> None:
        if self._form_size > MAX_FORM_BYTES:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", "Request body too large")
        request = self.request
        parse_body_arguments(request.headers.get("Content-Type", ""), b"".join(self._form),
                             request.body_arguments, request.files, request.headers)
        for name, values in request.body_arguments.items():
            request.arguments.setdefault(name, []).extend(values)
        self.check_xsrf_cookie()
        # A form's action is its handler's ``submit``, called once the token checked out.
        submit = getattr(self, "submit", None)
        if submit is None:
            raise HTTPError(405)
        await submit(*args)

    def get_current_user(self) -> Merchant | None:
        return self.merchant

    def start_session(self, merchant: Merchant, stamp: str) -> None:
        hours = self.deps.settings.dashboard_session_hours
        self.set_cookie(session.COOKIE, session.sign(self.dashboard.cookie_secret, merchant.id,
                                                     stamp),
                        httponly=True, samesite="Lax", secure=self.request.protocol == "https",
                        expires_days=hours / 24, path="/")

    def end_session(self) -> None:
        self.clear_cookie(session.COOKIE, path="/")

    def me(self) -> Merchant:
        assert self.merchant is not None, "prepare() admits only signed-in visitors"
        return self.merchant

    def render_page(self, template: str, **kw: Any) -> None:
        self.render(template, merchant=self.merchant, xsrf=self.xsrf_token.decode(), **kw)

    def send_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(payload))

    async def slow_refusal(self) -> None:
        """Wait before answering a failed login: guessing gets slow, the loop stays free."""
        await asyncio.sleep(0.5)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        err = to_error(exc, status_code)
        if isinstance(exc, HTTPError) and status_code == 403 and "_xsrf" in (exc.log_message or ""):
            err = ApiError(403, "BAD_REQUEST_ERROR",
                           "The request did not carry this dashboard's XSRF token")
        self.clear()
        self.set_status(err.status)
        for name, value in err.headers.items():
            self.set_header(name, value)
        if self.page:
            self.render("error.html", merchant=self.merchant, status=err.status,
                        description=err.description, xsrf="")
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(dumps({"error": {"code": err.code, "description": err.description}}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (ApiError, HTTPError)) or to_error(value).status < 500:
            return
        log.error("unhandled error on %s %s", self.request.method, self.request.path,
                  exc_info=(typ, value, tb))

    def on_finish(self) -> None:
        engine = self.deps.engine
        engine.metrics.observe_request(self.request.method or "", type(self).__name__,
                                       self.get_status(), self.request.request_time())
