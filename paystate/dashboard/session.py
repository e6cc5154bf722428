"""The dashboard's session cookie. Sessions themselves live in PostgreSQL
(``engine/sessions.py``); the cookie only carries the random token naming one.

Its name is ``__Host-`` prefixed over https (Secure, ``Path=/``, no Domain: a page on another
subdomain, or on plain http, cannot set or overwrite it); the plain name over http, where a
browser would refuse a ``__Host-`` cookie and local development could not sign in.
"""

from __future__ import annotations

COOKIE = "paystate_session"


def cookie_name(name: str, https: bool) -> str:
    return "__Host-" + name if https else name
