"""Orders, payments, refunds, transitions, webhook deliveries and the merchant profile as the
native API renders them. The same payment and refund bodies are the ``data`` of webhook
events (``event_data``, handed to the engine by bootstrap), so both always agree.

The engine hands the front database rows; the words merchants read are chosen here. A
delivery's ``status`` is one of the three words of the API contract, whatever the delivery
machine's finer state is; that state travels beside it as ``state``:

=============================  ==========  =====================================
machine state                  ``status``  meaning
=============================  ==========  =====================================
``pending``, ``retrying``      pending     waiting for its first or next attempt
``succeeded``                  success     an attempt got a 2xx
``failed``                     failed      the last attempt of the schedule failed
=============================  ==========  =====================================

Pure functions of rows; they run on the front's event loop.
"""

from __future__ import annotations

import json
from typing import Any

from ..encoding import iso
from ..machines.models import Order, Payment, Refund
from ..machines.webhook import DELIVERY_STATUS, delivery_status

DELIVERY_STATUSES = ("pending", "success", "failed")
DELIVERY_STATES = tuple(DELIVERY_STATUS)


def order_json(o: Order) -> dict[str, Any]:
    return {"id": o.id, "merchant_id": o.merchant_id, "amount": o.amount,
            "currency": o.currency, "receipt": o.receipt, "notes": o.notes, "status": o.state,
            "livemode": o.livemode, "created_at": iso(o.created_at),
            "updated_at": iso(o.updated_at)}


def order_public_json(o: Order, brand: dict[str, Any]) -> dict[str, Any]:
    """The order as the checkout shows it to a shopper: with its receipt (the merchant's own
    reference, shown instead of the order id) and ``merchant`` ``{name, logo_url}``."""
    return {"id": o.id, "amount": o.amount, "currency": o.currency, "status": o.state,
            "receipt": o.receipt, "merchant": {"name": brand["name"],
                                               "logo_url": brand["logo_url"]}}


def payment_json(p: Payment) -> dict[str, Any]:
    body: dict[str, Any] = {"id": p.id, "order_id": p.order_id, "amount": p.amount,
                            "currency": p.currency, "method": p.method}
    if p.method == "upi":
        body["vpa"] = p.vpa
    else:
        body["card_network"] = p.card_network
        body["card_last4"] = p.card_last4
    body.update({"status": p.state, "captured": p.captured, "amount_refunded": p.amount_refunded,
                 "error_code": p.error_code, "error_description": p.error_description,
                 "livemode": p.livemode, "created_at": iso(p.created_at),
                 "updated_at": iso(p.updated_at)})
    return body


def payment_public_json(p: Payment) -> dict[str, Any]:
    return {"id": p.id, "order_id": p.order_id, "amount": p.amount, "currency": p.currency,
            "method": p.method, "status": p.state, "error_code": p.error_code,
            "error_description": p.error_description, "created_at": iso(p.created_at)}


def refund_json(r: Refund) -> dict[str, Any]:
    return {"id": r.id, "payment_id": r.payment_id, "amount": r.amount, "reason": r.reason,
            "status": r.state, "livemode": r.livemode, "created_at": iso(r.created_at),
            "processed_at": iso(r.processed_at)}


def transition_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"from_state": row["from_state"], "to_state": row["to_state"],
            "trigger": row["trigger"], "at": iso(row["at"]), "data": row["data"]}


def event_data(obj: Any) -> dict[str, Any] | None:
    """The ``data`` of a webhook event about ``obj``: ``{"payment": ...}`` or
    ``{"refund": ...}``; None for objects whose changes send no webhook (orders)."""
    if isinstance(obj, Payment):
        return {"payment": payment_json(obj)}
    if isinstance(obj, Refund):
        return {"refund": refund_json(obj)}
    return None


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery in the list: ``{id, event, status, state, attempts, livemode, endpoint_id,
    event_id, created_at, last_attempt_at, next_retry_at, response_code}``."""
    return {"id": str(row["id"]), "event": row["event"],
            "status": delivery_status(row["status"]), "state": row["status"],
            "attempts": row["attempts"], "livemode": row["livemode"],
            "endpoint_id": row.get("endpoint_id"), "event_id": row.get("event_id"),
            "created_at": iso(row["created_at"]), "last_attempt_at": iso(row["last_attempt_at"]),
            "next_retry_at": iso(row["next_retry_at"]), "response_code": row["response_code"]}


def attempt_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"attempt": row["attempt"], "at": iso(row["at"]), "response_code": row["response_code"],
            "duration_ms": row["duration_ms"], "response_body": row["response_body"],
            "error": row["error"]}


def delivery_detail_json(row: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """A delivery with ``merchant_id``, ``updated_at``, the ``payload`` as the JSON object that
    was sent, and ``attempt_log``: every attempt, oldest first."""
    return {**delivery_json(row), "merchant_id": str(row["merchant_id"]),
            "updated_at": iso(row["updated_at"]), "payload": json.loads(row["payload"]),
            "attempt_log": [attempt_json(a) for a in attempts]}


def retry_json(delivery_id: str, state: str) -> dict[str, Any]:
    """The answer to a manual retry: the delivery is waiting for its first attempt again."""
    return {"id": delivery_id, "status": delivery_status(state), "state": state,
            "message": "Webhook retry scheduled"}


def merchant_json(row: dict[str, Any]) -> dict[str, Any]:
    """The merchant's own profile with its webhook settings (``GET /api/v1/merchant``)."""
    return {"id": str(row["id"]), "name": row["name"], "email": row["email"],
            "api_key": row["api_key"], "livemode": bool(row.get("livemode")),
            "webhook_url": row["webhook_url"],
            "webhook_secret": row["webhook_secret"],
            "checkout_origins": list(row["checkout_origins"]), "logo_url": row.get("logo_url"),
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"])}


def endpoint_json(row: dict[str, Any], health: dict[str, Any] | None = None,
                  with_secret: bool = False) -> dict[str, Any]:
    """A webhook endpoint. Its ``secret`` only in the answers that make one (create, roll),
    as Stripe shows it; ``health`` (last 24 h) where the caller read it."""
    body: dict[str, Any] = {
        "id": row["id"], "url": row["url"], "enabled_events": list(row["enabled_events"]),
        "description": row["description"], "format": row["format"], "status": row["status"],
        "disabled_reason": row["disabled_reason"], "livemode": row["livemode"],
        "default": row["is_default"], "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"])}
    if with_secret:
        body["secret"] = row["secret"]
        body["previous_secret_expires_at"] = iso(row["previous_expires_at"])
    if health is not None:
        body["health"] = {**health, "last_attempt_at": iso(health["last_attempt_at"])}
    return body


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """An event as the events list keeps it: ``{id, type, livemode, created_at, data}``."""
    payload = row["payload"]
    return {"id": row["event_id"], "type": payload.get("event"),
            "livemode": bool(payload.get("livemode")), "created_at": iso(row["created_at"]),
            "data": payload.get("data")}
