"""Webhook rows to domain objects. The HTTP fronts render rows themselves
(``http/renderers.py``)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ...machines.webhook import WebhookDelivery


def delivery_from_row(row: dict[str, Any]) -> WebhookDelivery:
    token = row.get("lease_token")
    return WebhookDelivery(
        id=str(row["id"]), merchant_id=str(row["merchant_id"]), event=row["event"],
        event_key=row["event_key"], payload=row["payload"], state=row["status"],
        attempts=row["attempts"], next_retry_at=row["next_retry_at"],
        last_attempt_at=row["last_attempt_at"], response_code=row["response_code"],
        lease_owner=row.get("lease_owner"), lease_token=str(token) if token else None,
        lease_until=row.get("lease_until"), version=row["version"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        livemode=bool(row.get("livemode", False)), endpoint_id=row.get("endpoint_id"),
        event_id=row.get("event_id"))


def delivery_row(d: WebhookDelivery) -> dict[str, Any]:
    """The inverse of ``delivery_from_row``: the row as a claim returns it."""
    row = {f.name: getattr(d, f.name) for f in fields(d)}
    row["status"] = row.pop("state")
    return row
