"""The dashboard's cookies and XSRF tokens. Sessions themselves live in PostgreSQL
(``engine/sessions.py``); the session cookie only carries the random token naming one.

- Names: ``__Host-`` prefixed over https (Secure, ``Path=/``, no Domain: a page on another
  subdomain, or on plain http, cannot set or overwrite it); the plain name over http, where a
  browser would refuse a ``__Host-`` cookie and local development could not sign in.
- XSRF tokens are HMAC-SHA256, under the dashboard key, of the session's token: bound to the
  session and unknown to anyone who cannot read its HttpOnly cookie. An ``_xsrf`` cookie that
  another page tosses onto the browser (cookies do not tell ports apart, and SameSite=Lax lets
  the session through from another port of the same host) is never consulted.
- Before a session exists the sign-in form's token is bound the same way to a random nonce in
  a short-lived signed cookie (``LOGIN``). That cookie can be planted by someone who fetched
  ``/login`` themselves, so sign-in also relies on the Origin check in ``base.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from tornado.web import create_signed_value, decode_signed_value

COOKIE = "paystate_session"
LOGIN = "paystate_login"
#: A sign-in form's token is accepted this long after its cookie was set...
LOGIN_FORM_HOURS = 2
#: ...and a page rendered later than this gets a fresh one, so a form is good for an hour.
LOGIN_FORM_REUSE_HOURS = 1


def cookie_name(name: str, https: bool) -> str:
    return "__Host-" + name if https else name


def xsrf_token(secret: str, purpose: str, value: str) -> str:
    """The token a form must carry: ``purpose`` "session" (``value`` the session's token) or
    "login" (the sign-in form's nonce), so one can never stand for the other."""
    message = f"paystate-dashboard-xsrf\0{purpose}\0{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_login_nonce(secret: str) -> tuple[str, bytes]:
    """A fresh nonce and its signed cookie value."""
    nonce = secrets.token_urlsafe(32)
    return nonce, create_signed_value(secret, LOGIN, nonce)


def read_login_nonce(secret: str, value: str | None, hours: float) -> str | None:
    """The nonce of a sign-in cookie signed with ``secret`` less than ``hours`` ago."""
    if not value:
        return None
    raw = decode_signed_value(secret, LOGIN, value, max_age_days=hours / 24)
    return raw.decode() if raw else None
