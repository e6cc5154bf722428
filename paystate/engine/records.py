"""The object tables (orders, payments, refunds): the statements that read them by id, and
their rows as domain objects. Every read of these tables by id, in a shard or for a front,
uses these statements; writes go through ``unit_of_work.commit_all``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..machines.models import Order, Payment, Refund


def order_from_row(row: dict[str, Any]) -> Order:
    return Order(id=row["id"], merchant_id=str(row["merchant_id"]), amount=row["amount"],
                 currency=row["currency"], receipt=row["receipt"], notes=row["notes"] or {},
                 state=row["status"], version=row["version"], created_at=row["created_at"],
                 updated_at=row["updated_at"], paid_payment_id=row["paid_payment_id"],
                 livemode=row["livemode"])


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
                   public=row["public"], test_outcome=row["test_outcome"],
                   livemode=row["livemode"])


def refund_from_row(row: dict[str, Any]) -> Refund:
    return Refund(id=row["id"], payment_id=row["payment_id"], order_id=row["order_id"],
                  merchant_id=str(row["merchant_id"]), amount=row["amount"],
                  reason=row["reason"], state=row["status"], settle_due_at=row["settle_due_at"],
                  processed_at=row["processed_at"], version=row["version"],
                  created_at=row["created_at"], updated_at=row["updated_at"],
                  livemode=row["livemode"])


#: Per kind: the table, the row-to-object function and the name a NotFound gives.
TABLES: dict[str, tuple[str, Callable[[dict[str, Any]], Any], str]] = {
    "order": ("orders", order_from_row, "Order"),
    "payment": ("payments", payment_from_row, "Payment"),
    "refund": ("refunds", refund_from_row, "Refund"),
}
#: One row by id, and many rows by ids (``= ANY(%s)``), per kind.
BY_ID = {kind: f"SELECT * FROM {table} WHERE id = %s" for kind, (table, _f, _n) in TABLES.items()}
BY_IDS = {kind: f"SELECT * FROM {table} WHERE id = ANY(%s)"
          for kind, (table, _f, _n) in TABLES.items()}
#: The public checkout's payments of one order (its attempt cap counts these only).
PUBLIC_PAYMENTS_OF_ORDER = "SELECT count(*) AS n FROM payments WHERE order_id = %s AND public"
