"""The dashboard's session cookie: Tornado's signed values, keyed by configuration.

The cookie holds the merchant id and a stamp of its password hash, signed (HMAC-SHA256, Tornado's
version 2 format, which also carries the signing time). It is refused once older than
``DASHBOARD_SESSION_HOURS`` or after the merchant's password changed. The key is
``DASHBOARD_COOKIE_SECRET``, or else the one bootstrap keeps per database (``gateway_keys``), so
every process of one gateway accepts the others' sessions and restarts keep them.
"""

from __future__ import annotations

import json

from tornado.web import create_signed_value, decode_signed_value

COOKIE = "paystate_session"


def sign(secret: str, merchant_id: str, stamp: str) -> bytes:
    return create_signed_value(secret, COOKIE, json.dumps([merchant_id, stamp]))


def read(secret: str, hours: int, value: str | None) -> tuple[str, str] | None:
    """(merchant id, stamp) from a cookie signed with ``secret`` less than ``hours`` ago."""
    if not value:
        return None
    raw = decode_signed_value(secret, COOKIE, value, max_age_days=hours / 24)
    if raw is None:
        return None
    try:
        merchant_id, stamp = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(merchant_id, str) or not isinstance(stamp, str):
        return None
    return merchant_id, stamp
