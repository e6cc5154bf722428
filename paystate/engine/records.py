"""Rows to domain objects, and domain objects to the API's JSON shapes (shared by the API
responses and the webhook payloads, so both always agree)."""

from __future__ import annotations

from typing import Any

from ..machines.models import Order, Payment, Refund
from .clock import iso


def order_from_row(row: dict[str, Any]) -> Order:
    return Order(id=row["id"], merchant_id=str(row["merchant_id"]), amount=row["amount"],
                 currency=row["currency"], receipt=row["receipt"], notes=row["notes"] or {},
                 state=row["status"], version=row["version"], created_at=row["created_at"],
                 updated_at=row["updated_at"], paid_payment_id=row["paid_payment_id"])


def payment_from_row(row: dict[str, Any]) -> Payment:
    return Payment(id=row["id"], order_id=row["order_id"], merchant_id=str(row["merchant_id"]),
                   amount=row["amount"], currency=row["currency"], method=row["method"],
                   vpa=row["vpa"], card_network=row["card_network"],
                   card_last4=row["card_last4"], state=row["status"], captured=row["captured"],
                   error_code=row["error_code"], error_description=row["error_description"],
                   amount_refunded=row["amount_refunded"],
                   amount_refund_pending=row["amount_refund_pending"],
                   settle_due_at=row["settle_due_at"], version=row["version"],
                   created_at=row["created_at"], updated_at=row["updated_at"],
                   public=row["public"])


def refund_from_row(row: dict[str, Any]) -> Refund:
    return Refund(id=row["id"], payment_id=row["payment_id"], order_id=row["order_id"],
                  merchant_id=str(row["merchant_id"]), amount=row["amount"],
                  reason=row["reason"], state=row["status"], settle_due_at=row["settle_due_at"],
                  processed_at=row["processed_at"], version=row["version"],
                  created_at=row["created_at"], updated_at=row["updated_at"])


def order_json(o: Order) -> dict[str, Any]:
    return {"id": o.id, "merchant_id": o.merchant_id, "amount": o.amount,
            "currency": o.currency, "receipt": o.receipt, "notes": o.notes, "status": o.state,
            "created_at": iso(o.created_at), "updated_at": iso(o.updated_at)}


def order_public_json(o: Order) -> dict[str, Any]:
    return {"id": o.id, "amount": o.amount, "currency": o.currency, "status": o.state}


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
                 "created_at": iso(p.created_at), "updated_at": iso(p.updated_at)})
    return body


def payment_public_json(p: Payment) -> dict[str, Any]:
    return {"id": p.id, "order_id": p.order_id, "amount": p.amount, "currency": p.currency,
            "method": p.method, "status": p.state, "error_code": p.error_code,
            "error_description": p.error_description, "created_at": iso(p.created_at)}


def refund_json(r: Refund) -> dict[str, Any]:
    return {"id": r.id, "payment_id": r.payment_id, "amount": r.amount, "reason": r.reason,
            "status": r.state, "created_at": iso(r.created_at),
            "processed_at": iso(r.processed_at)}


def transition_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"from_state": row["from_state"], "to_state": row["to_state"],
            "trigger": row["trigger"], "at": iso(row["at"]), "data": row["data"]}
