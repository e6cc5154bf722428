"""The dashboard's base handler: session, XSRF, security headers, HTML or JSON errors.

Pages answer an anonymous visitor with a redirect to ``/login``; data calls (``page = False``)
with 401 in the contract's envelope.

Forgery, in two layers, both in Tornado's ``check_xsrf_cookie`` hook, which ``post`` calls once
the form is read (the Application's ``xsrf_cookies`` is not used: it would also demand tokens
from the merchant API's POSTs; and refusing in ``prepare``, before the body, would leave it
unread on a keep-alive connection):
- ``check_origin`` refuses a POST that a browser says comes from another origin
  (``Sec-Fetch-Site`` other than ``same-origin``, or an ``Origin`` that is not this one). A
  page on another port of the same host is same-site, so SameSite=Lax lets the session cookie
  through; these headers tell it apart. Clients that send neither rely on the token alone.
- the token: the ``_xsrf`` form field (or ``X-XSRFToken`` header) must be the
  token bound to the visitor's session, or before sign-in to the sign-in form's cookie
  (``session.py``). No ``_xsrf`` cookie is read, so one tossed onto the browser is worthless.

The handler base is the API's (``http/base.py``): bodies streamed against the process's
budget, at most ``MAX_FORM_BYTES`` of a form (longer ones are drained and answered 413), the
in-flight count, metrics and logging. ``post`` parses the form, checks the XSRF token, then
calls the handler's ``submit``. Errors are an HTML page for pages, the envelope for data calls.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import logging
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from tornado.httputil import parse_body_arguments
from tornado.web import HTTPError

from ..engine.bridge import Merchant
from ..engine.dashboard_bridge import DashboardBridge
from ..engine.webhooks.bridge import WebhookBridge
from ..http.base import BaseHandler, Deps, strict_transport
from ..http.errors import ApiError
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


def csp_with_images(img_src: str) -> str:
    """``CSP`` with another ``img-src`` (the settings page previews the merchant's logo from
    wherever the checkout will load it); everything else stays on the dashboard's origin."""
    return CSP.replace("img-src 'self' data:;", img_src + ";")


#: The dashboard shows one mode at a time; this cookie remembers which.
MODE_COOKIE = "paystate_mode"
MODES = ("test", "live")


#: The words and addresses the pages both fronts share (sign-in, error) take on this front; the
#: operator console's base gives its own (``ops/base.py``).
FRONT = {"heading": "Paystate", "lead": "Sign in to your merchant dashboard.",
         "title": "Log in", "login_action": "/login", "login_form": "login-form",
         "home": "/dashboard", "back": "Back to the dashboard"}


class DashboardHandler(BaseHandler):
    #: False for data calls: JSON answers, 401 instead of a redirect.
    page = True
    front = FRONT
    #: False for the login page itself.
    login_required = True
    #: Where an anonymous visitor is sent, the sign-in form's cookie, and the prefix of the
    #: XSRF tokens' purpose: another front built on this base (the operators' console) sets
    #: its own, so a token of one never passes the other's check.
    login_path = "/login"
    login_cookie = session.LOGIN
    xsrf_scope = ""

    #: The signed-in merchant (set by ``prepare``), None for an anonymous visitor.
    visitor: Merchant | None

    def initialize(self, deps: Deps) -> None:
        super().initialize(deps)
        self.visitor = None
        #: The cookie's token of the visitor's live session, if any.
        self.session_token: str | None = None
        self._xsrf: bytes | None = None

    @property
    def max_body(self) -> int:
        return MAX_FORM_BYTES

    @property
    def dashboard(self) -> DashboardBridge:
        bridge: Any = self.deps.extras["dashboard"]
        return bridge

    @property
    def webhooks(self) -> WebhookBridge:
        bridge: Any = self.deps.extras["webhooks"]
        return bridge

    def get_template_path(self) -> str:
        return TEMPLATES

    def get_template_namespace(self) -> dict[str, Any]:
        return {**super().get_template_namespace(), **HELPERS, "active": None,
                "front": self.front}

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")
        strict_transport(self)

    @property
    def https(self) -> bool:
        return self.request.protocol == "https"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every page's methods first admit the visitor (``_admitted``)."""
        super().__init_subclass__(**kwargs)
        for name in ("get", "post"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "admits", False):
                setattr(cls, name, _admitting(method))

    async def prepare(self) -> None:
        await super().prepare()
        token = self.get_cookie(session.cookie_name(session.COOKIE, self.https))
        if token:
            self.visitor = await self.dashboard.session(token)
            self.session_token = token if self.visitor is not None else None
        if self.visitor is not None:
            self.visitor = await self.dashboard.in_mode(self.visitor, self._mode() == "live")

    def _mode(self) -> str:
        """The Test/Live switch: ``?mode=`` chooses (and is remembered in a cookie for the
        next pages); otherwise the cookie; test mode by default."""
        chosen = self.get_query_argument("mode", None)
        if chosen in MODES:
            self.set_cookie(MODE_COOKIE, chosen, httponly=True, samesite="Lax",
                            secure=self.https, path="/")
            return chosen
        remembered = self.get_cookie(MODE_COOKIE)
        return remembered if remembered in MODES else "test"

    def _admitted(self) -> bool:
        """False, after answering, for an anonymous visitor of a page that needs a sign-in: a
        redirect to ``/login`` (pages) or 401 (data calls). Decided here, in the method, and
        not in ``prepare``: a streamed request answered before its body was read makes
        Tornado close the connection, and a client reusing it would meet a reset."""
        if not self.login_required or self.signed_in():
            return True
        if not self.page:
            raise ApiError(401, "AUTHENTICATION_ERROR", "Login required")
        self.redirect(self.login_path + "?next=" + quote(self.request.path, safe="/"))
        return False

    def signed_in(self) -> bool:
        return self.visitor is not None

    def check_origin(self) -> None:
        """403 unless a POST's ``Sec-Fetch-Site`` and ``Origin``, where sent, say it comes from
        this dashboard's own origin. ``Sec-Fetch-Site`` is the browser's own verdict (its
        "same-site" covers another port of this host: refused); ``Origin`` covers browsers
        that do not send it."""
        site = self.request.headers.get("Sec-Fetch-Site")
        origin = self.request.headers.get("Origin")
        if (site is not None and site != "same-origin") or (
                origin is not None and not self._own_origin(origin)):
            raise ApiError(403, "BAD_REQUEST_ERROR",
                           "The dashboard refuses forms posted from another site")

    def _own_origin(self, origin: str) -> bool:
        scheme, sep, host = origin.partition("://")
        if not sep or host.lower() != self.request.host.lower():
            return False
        # An https origin on exactly this host and port, seen here as http, is a proxy in front
        # ending TLS without X-Forwarded-Proto being trusted; any other scheme mismatch is not.
        return scheme == self.request.protocol or (scheme, self.request.protocol) == (
            "https", "http")

    @property
    def xsrf_token(self) -> bytes:
        """The token this visitor's forms carry (Tornado's property, used by
        ``xsrf_form_html``): bound to the session or, signed out, to the sign-in form's
        cookie, which this sets when it is missing or older than an hour."""
        if self._xsrf is None:
            self._xsrf = (self._expected_xsrf(issue=True) or "").encode()
        return self._xsrf

    def check_xsrf_cookie(self) -> None:
        """Tornado's hook, called by ``post`` once the form is read: 403 unless the request
        comes from this origin (``check_origin``) and carries ``xsrf_token``."""
        self.check_origin()
        given = (self.get_argument("_xsrf", None) or self.request.headers.get("X-Xsrftoken")
                 or self.request.headers.get("X-Csrftoken") or "")
        expected = self._expected_xsrf(issue=False)
        if not given or not expected or not hmac.compare_digest(given.encode(),
                                                                 expected.encode()):
            raise ApiError(403, "BAD_REQUEST_ERROR",
                           "The request did not carry this dashboard's XSRF token")

    @property
    def cookie_secret(self) -> str:
        return self.dashboard.cookie_secret

    def _expected_xsrf(self, issue: bool) -> str | None:
        secret = self.cookie_secret
        if self.session_token is not None:
            return session.xsrf_token(secret, self.xsrf_scope + "session", self.session_token)
        name = session.cookie_name(self.login_cookie, self.https)
        hours = session.LOGIN_FORM_REUSE_HOURS if issue else session.LOGIN_FORM_HOURS
        nonce = session.read_login_nonce(secret, self.get_cookie(name), hours)
        if nonce is None and issue:
            nonce, signed = session.new_login_nonce(secret)
            self.set_cookie(name, signed, httponly=True, samesite="Strict", path="/",
                            secure=self.https, expires_days=session.LOGIN_FORM_HOURS / 24)
        return session.xsrf_token(secret, self.xsrf_scope + "login", nonce) if nonce else None

    async def post(self, *args: str) -> None:
        if not self._admitted():
            return
        request = self.request
        parse_body_arguments(request.headers.get("Content-Type", ""), self.raw_body(),
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
        return self.visitor

    def start_session(self, token: str) -> None:
        """Hand the browser the cookie of the session the engine just made."""
        hours = self.deps.settings.dashboard_session_hours
        self.set_cookie(session.cookie_name(session.COOKIE, self.https), token, httponly=True,
                        samesite="Lax", secure=self.https, expires_days=hours / 24, path="/")

    async def end_session(self) -> None:
        """End the visitor's session in the engine (a copy of the cookie opens nothing
        afterwards) and drop the cookie."""
        if self.session_token is not None:
            await self.dashboard.logout(self.session_token)
            self.session_token = None
        # A __Host- cookie is only replaced by one with the same Secure and Path attributes.
        for name in (session.COOKIE, session.LOGIN):
            self.clear_cookie(session.cookie_name(name, self.https), path="/",
                              secure=self.https, httponly=True)

    def me(self) -> Merchant:
        assert self.visitor is not None, "prepare() admits only signed-in visitors"
        return self.visitor

    def render_page(self, template: str, **kw: Any) -> None:
        self.render(template, merchant=self.visitor, xsrf=self.xsrf_token.decode(), **kw)

    async def slow_refusal(self) -> None:
        """Wait before answering a failed login: guessing gets slow, the loop stays free."""
        await asyncio.sleep(0.5)

    def render_error(self, err: ApiError, body: Any) -> None:
        if not self.page:
            super().render_error(err, body)
            return
        self.render("error.html", merchant=self.visitor, status=err.status,
                    description=err.description, xsrf="")


def _admitting(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, run only for a visitor ``DashboardHandler._admitted`` lets in."""
    @functools.wraps(method)
    async def admitted(self: DashboardHandler, *args: Any) -> None:
        if not self._admitted():
            return
        result = method(self, *args)
        if inspect.isawaitable(result):
            await result

    admitted.admits = True  # type: ignore[attr-defined]
    return admitted
