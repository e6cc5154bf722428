"""Webhook rows to domain objects, and to the API's JSON shapes."""

from __future__ import annotations

import json
from typing import Any

from ...machines.webhook import WebhookDelivery
from ..clock import iso


def delivery_from_row(row: dict[str, Any]) -> WebhookDelivery:
    token = row.get("lease_token")
    return WebhookDelivery(
        id=str(row["id"]), merchant_id=str(row["merchant_id"]), event=row["event"],
        event_key=row["event_key"], payload=row["payload"], state=row["status"],
        attempts=row["attempts"], next_retry_at=row["next_retry_at"],
        last_attempt_at=row["last_attempt_at"], response_code=row["response_code"],
        lease_owner=row.get("lease_owner"), lease_token=str(token) if token else None,
        lease_until=row.get("lease_until"), version=row["version"],
        created_at=row["created_at"], updated_at=row["updated_at"])


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery in the list: ``{id, event, status, attempts, created_at, last_attempt_at,
    next_retry_at, response_code}``."""
    return {"id": str(row["id"]), "event": row["event"], "status": row["status"],
            "attempts": row["attempts"], "created_at": iso(row["created_at"]),
            "last_attempt_at": iso(row["last_attempt_at"]),
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


def merchant_json(row: dict[str, Any]) -> dict[str, Any]:
    """The merchant's own profile with its webhook settings (``GET /api/v1/merchant``)."""
    return {"id": str(row["id"]), "name": row["name"], "email": row["email"],
            "api_key": row["api_key"], "webhook_url": row["webhook_url"],
            "webhook_secret": row["webhook_secret"], "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"])}
