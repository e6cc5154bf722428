"""The rules of webhook endpoints, pure: which events an endpoint may ask for, which events it
receives, how many a merchant may have, when a failing one is disabled, and how long a rolled
secret keeps signing.

An endpoint's ``format`` names the words of its events: a ``paystate`` endpoint subscribes to
Paystate's event names, a ``razorpay`` one to Razorpay's (so a handler written for Razorpay
keeps its ``switch`` on ``payment.authorized``). ``*`` subscribes to every event of the format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from .errors import ValidationError

PAYSTATE_EVENTS = ("payment.created", "payment.pending", "payment.success", "payment.failed",
                   "payment.captured", "refund.created", "refund.processed", "refund.failed",
                   "webhook.test")
#: What a razorpay-format endpoint subscribes to: the names the Razorpay front's webhook
#: bodies (``http/razorpay/webhook_bodies.py``) can carry but ``webhook.test``, which is sent
#: only when asked for.
RAZORPAY_EVENTS = ("payment.authorized", "payment.captured", "payment.failed", "order.paid",
                   "refund.created", "refund.processed", "refund.failed")
FORMATS = {"paystate": PAYSTATE_EVENTS, "razorpay": RAZORPAY_EVENTS}
ALL = "*"
#: Endpoints per merchant and mode, as Stripe's 16: enough for fulfilment, accounting and
#: staging copies, few enough that one event never fans out into a flood.
MAX_ENDPOINTS = 16
MAX_DESCRIPTION = 500
#: How long a rolled secret keeps signing beside the new one, in hours (default, most).
ROLL_OVERLAP_HOURS = 24
MAX_ROLL_OVERLAP_HOURS = 72
TEST_EVENT = "webhook.test"


def check_format(value: Any) -> str:
    if value is None:
        return "paystate"
    if not isinstance(value, str) or value not in FORMATS:
        raise ValidationError(f"format must be one of: {', '.join(FORMATS)}", param="format")
    return str(value)


def check_enabled_events(value: Any, fmt: str) -> list[str]:
    """A non-empty list of known event names of ``fmt`` (or ``["*"]``), without repeats, in the
    order given; a 400 naming the known ones otherwise."""
    known = FORMATS[fmt]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationError("enabled_events must be a non-empty list of event names, or"
                              ' ["*"] for every event', param="enabled_events")
    unknown = [v for v in value if v != ALL and v not in known]
    if unknown:
        raise ValidationError(f"Unknown event {unknown[0]!r} for a {fmt} endpoint; known"
                              f" events: {', '.join(known)} (or * for all)", param="enabled_events")
    if ALL in value:
        return [ALL]
    return list(dict.fromkeys(value))


def check_description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationError(f"description must be a string of at most {MAX_DESCRIPTION}"
                              " characters", param="description")
    return value


def check_room(existing: int) -> None:
    if existing >= MAX_ENDPOINTS:
        raise ValidationError(f"A merchant may have at most {MAX_ENDPOINTS} webhook endpoints"
                              " per mode; delete one first")


def check_overlap_hours(value: Any) -> int:
    if value is None:
        return ROLL_OVERLAP_HOURS
    if isinstance(value, bool) or not isinstance(value, int) or not (
            0 <= value <= MAX_ROLL_OVERLAP_HOURS):
        raise ValidationError("expires_in_hours must be a whole number from 0 to"
                              f" {MAX_ROLL_OVERLAP_HOURS}", param="expires_in_hours")
    return value


def subscribed(enabled_events: Iterable[str], event: str) -> bool:
    """Whether an endpoint with ``enabled_events`` receives ``event`` (in its format's words).
    ``webhook.test`` is sent only when asked for, to the endpoint asked for."""
    events = list(enabled_events)
    return event != TEST_EVENT and (ALL in events or event in events)


def signing_secrets(secret: str, previous: str | None, previous_expires_at: datetime | None,
                    now: datetime) -> Sequence[str]:
    """The secrets an attempt at ``now`` signs with: the current one first, then a rolled one
    whose overlap has not ended."""
    if previous and previous_expires_at is not None and now < previous_expires_at:
        return (secret, previous)
    return (secret,)


def disable_due(failing_since: datetime | None, now: datetime, after: timedelta) -> bool:
    """A dead endpoint: every attempt since ``failing_since`` failed, for ``after`` or longer."""
    return failing_since is not None and now - failing_since >= after


def disabled_reason(after: timedelta) -> str:
    hours = int(after.total_seconds() // 3600)
    return f"Every delivery attempt failed for {hours} hours"
