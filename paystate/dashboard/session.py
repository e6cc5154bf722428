"""The dashboard's session cookie: Tornado's signed values, keyed by configuration.

The cookie holds the merchant id and a stamp of its password hash, signed (HMAC-SHA256, Tornado's
version 2 format, which also carries the signing time). It is refused once older than
``DASHBOARD_SESSION_HOURS`` or after the merchant's password changed. Without
``DASHBOARD_COOKIE_SECRET`` each process draws a random key when it first needs one.
"""

from __future__ import annotations

import functools
import json
import secrets

from tornado.web import create_signed_value, decode_signed_value

from ..config import Settings

COOKIE = "paystate_session"


@functools.cache
def _process_secret() -> str:
    return secrets.token_urlsafe(32)


def cookie_secret(settings: Settings) -> str:
    return settings.dashboard_cookie_secret or _process_secret()


def sign(settings: Settings, merchant_id: str, stamp: str) -> bytes:
    return create_signed_value(cookie_secret(settings), COOKIE, json.dumps([merchant_id, stamp]))


def read(settings: Settings, value: str | None) -> tuple[str, str] | None:
    """(merchant id, stamp) from a cookie signed here and younger than the session length."""
    if not value:
        return None
    raw = decode_signed_value(cookie_secret(settings), COOKIE, value,
                              max_age_days=settings.dashboard_session_hours / 24)
    if raw is None:
        return None
    try:
        merchant_id, stamp = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(merchant_id, str) or not isinstance(stamp, str):
        return None
    return merchant_id, stamp
