"""Formatting for the dashboard's templates: money, times, status words, the hour's chart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from ..encoding import iso
from ..machines.webhook import delivery_status

PAYMENT_STATUSES = ("pending", "success", "failed")
#: The delivery log's filter: the contract's words (``machines.webhook.DELIVERY_STATUS``).
DELIVERY_STATUSES = ("pending", "success", "failed")
#: Where the dashboard shows an object a delivery is about, by the payload's entity name.
OBJECT_PAGES = {"payment": "/dashboard/payments/", "refund": "/dashboard/states/refund/"}
#: The machine names in URLs, and back.
URL_MACHINES = {"payment": "payment", "refund": "refund", "delivery": "webhook_delivery"}
MACHINE_URLS = {v: k for k, v in URL_MACHINES.items()}
MACHINE_TITLES = {"payment": "Payments", "refund": "Refunds",
                  "webhook_delivery": "Webhook deliveries"}


def money(paise: int | None, currency: str = "INR") -> str:
    if paise is None:
        return "-"
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(int(paise)), 100)
    symbol = "\u20b9" if currency == "INR" else currency + " "
    return f"{sign}{symbol}{rupees:,}.{rest:02d}"


def when(ts: datetime | None) -> str:
    if ts is None:
        return "-"
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(rate: float | None) -> str:
    """An endpoint's 24 h success rate (0..1, None without a finished delivery)."""
    return "no deliveries" if rate is None else f"{rate * 100:.1f}%"


def endpoint_form(row: dict[str, Any]) -> dict[str, Any]:
    """An endpoint's stored values in the shape of its edit form (``all``: every event)."""
    events = list(row["enabled_events"])
    return {"id": row["id"], "url": row["url"], "description": row["description"] or "",
            "format": row["format"], "all": "*" in events,
            "events": [e for e in events if e != "*"]}


def as_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def pretty_json(text: str) -> str:
    """A delivery's body, indented for reading (the template escapes it); as stored if it is
    not JSON."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def delivery_object(payload: str | None) -> tuple[str, str] | None:
    """(page URL, id) of the payment or refund a delivery's body is about: ``data.refund.id``
    or else ``data.payment.id`` in Paystate's format, ``payload.refund.entity.id`` or
    ``payload.payment.entity.id`` in Razorpay's; None for a body about neither (a test)."""
    try:
        body = json.loads(payload or "")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    data, razorpay = body.get("data"), body.get("payload")
    for kind in ("refund", "payment"):
        found: Any = None
        if isinstance(data, dict) and isinstance(data.get(kind), dict):
            found = data[kind].get("id")
        elif isinstance(razorpay, dict) and isinstance(razorpay.get(kind), dict):
            entity = razorpay[kind].get("entity")
            found = entity.get("id") if isinstance(entity, dict) else None
        if isinstance(found, str) and found:
            return OBJECT_PAGES[kind] + quote(found, safe=""), found
    return None


def machine_url(machine: str) -> str:
    return MACHINE_URLS[machine]


def local_input(ts: datetime | None) -> str:
    """A UTC time as a datetime-local control's value (seconds, no offset)."""
    return "" if ts is None else ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


HELPERS = {"money": money, "when": when, "delivery_status": delivery_status,
           "as_json": as_json, "machine_url": machine_url, "percent": percent,
           "endpoint_form": endpoint_form, "pretty_json": pretty_json,
           "delivery_object": delivery_object, "iso": iso, "local_input": local_input}

CHART_W, CHART_H, CHART_PAD = 720, 180, 28
CHART_COLOURS = (("success", "bar-success"), ("failed", "bar-failed"), ("pending", "bar-pending"))


def minute_chart(since: datetime, rows: list[dict[str, Any]]) -> str:
    """Stacked bars, one per minute of the last hour, by payment status, as inline SVG."""
    minutes = [(since + timedelta(minutes=i)).astimezone(UTC) for i in range(60)]
    counts: dict[datetime, dict[str, int]] = {m: {} for m in minutes}
    for row in rows:
        bucket = counts.get(row["minute"].astimezone(UTC))
        if bucket is not None:
            bucket[row["status"]] = bucket.get(row["status"], 0) + int(row["n"])
    peak = max([sum(c.values()) for c in counts.values()] + [1])
    bar_w = (CHART_W - CHART_PAD) / 60
    plot_h = CHART_H - CHART_PAD
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="minute-chart" role="img"'
             f' viewBox="0 0 {CHART_W} {CHART_H}" width="{CHART_W}" height="{CHART_H}">'),
             "<title>Payments per minute in the last hour, by status</title>",
             f'<line class="axis" x1="{CHART_PAD}" y1="{plot_h}" x2="{CHART_W}" y2="{plot_h}"/>',
             f'<text class="tick" x="{CHART_PAD - 4}" y="12" text-anchor="end">{peak}</text>',
             f'<text class="tick" x="{CHART_PAD - 4}" y="{plot_h}" text-anchor="end">0</text>']
    for i, minute in enumerate(minutes):
        x = CHART_PAD + i * bar_w
        y = float(plot_h)
        total = sum(counts[minute].values())
        for status, css in CHART_COLOURS:
            n = counts[minute].get(status, 0)
            if not n:
                continue
            h = (plot_h - 14) * n / peak
            y -= h
            parts.append(f'<rect class="{css}" x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}"'
                         f' height="{h:.1f}"><title>{escape(minute.strftime("%H:%M"))}'
                         f' {escape(status)}: {n}</title></rect>')
        if i % 10 == 0 or i == 59:
            parts.append(f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{CHART_H - 8}"'
                         f' text-anchor="middle">{escape(minute.strftime("%H:%M"))}</text>')
        if total and i == 59:
            parts.append(f'<text class="tick" x="{x:.1f}" y="{y - 3:.1f}">{total}</text>')
    parts.append("</svg>")
    return "".join(parts)
