"""The dispatcher actor's reads and claims of delivery rows, on its connection and thread.

Claims and lease releases are the only writes here; what the actor decides (new deliveries,
recorded attempts, transitions) is written through its ``UnitOfWork``
(``engine/unit_of_work.py``). The front's reads are in ``bridge``, the dashboard's in
``engine/dashboard_queries.py``. Also here: the reconcile's reads of the outbox's event rows.

Claiming is leasing: one UPDATE sets ``lease_owner``, a fresh ``lease_token`` and
``lease_until`` on rows that are due and not leased, skipping rows another transaction holds
(``FOR UPDATE SKIP LOCKED``), so each due attempt is claimed by exactly one process. The claim
returns the merchant's URL and secret as they are now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ...machines.webhook import WebhookDelivery
from ..ids import uuid_text
from .records import delivery_from_row

_CLAIM = (
    "UPDATE webhook_logs w SET lease_owner = %(owner)s, lease_token = gen_random_uuid(),"
    " lease_until = %(until)s FROM merchants m"
    " WHERE m.id = w.merchant_id AND w.id IN ({candidates})"
    " RETURNING w.*, m.webhook_url, m.webhook_secret")
_DUE = ("status IN ('pending', 'retrying') AND next_retry_at <= %(now)s"
        " AND (lease_until IS NULL OR lease_until <= %(now)s)")
_CLAIM_IDS = _CLAIM.format(candidates=(
    "SELECT id FROM webhook_logs WHERE id = ANY(%(ids)s::uuid[]) AND " + _DUE
    + " FOR UPDATE SKIP LOCKED"))
# The merchant's next due deliveries, oldest due first: what refills a freed slot. Served by
# webhook_logs_merchant_due_idx.
_CLAIM_NEXT = _CLAIM.format(candidates=(
    "SELECT id FROM webhook_logs WHERE merchant_id = %(merchant)s AND " + _DUE
    + " ORDER BY next_retry_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"))


# The reads of the delivery tables, for the actor here and for the fronts (webhooks/bridge.py,
# dashboard_queries.py): every statement on webhook_logs and webhook_attempts has this home, but
# the writes, which go through unit_of_work.commit_all.
DELIVERY = "SELECT * FROM webhook_logs WHERE id = %s"
MERCHANTS_DELIVERY = ("SELECT * FROM webhook_logs WHERE id = %s AND merchant_id = %s"
                      " AND livemode = %s")
DELIVERIES = "SELECT * FROM webhook_logs WHERE id = ANY(%s::uuid[])"
DELIVERY_PROGRESS = "SELECT attempts, status FROM webhook_logs WHERE id = %s"
#: The columns of a delivery in a list, and the list's order (with db.counted_page).
LIST_COLUMNS = ("id, event, status, attempts, created_at, last_attempt_at, next_retry_at,"
                " response_code, livemode")
LIST_ORDER = "created_at DESC, seq DESC"
ATTEMPTS = "SELECT * FROM webhook_attempts WHERE delivery_id = %s ORDER BY id"
ATTEMPTS_OF_MANY = ("SELECT * FROM webhook_attempts WHERE delivery_id = ANY(%s::uuid[])"
                    " ORDER BY delivery_id, id")

class Deliveries:
    """Reads and claims of ``webhook_logs``; writes go through the actor's unit of work."""

    def __init__(self, connection: Callable[[], psycopg.Connection[Any]], owner: str,
                 lease: timedelta) -> None:
        # The actor's connection as it is now (it is replaced after a failure).
        self._connection = connection
        self._owner = owner
        self._lease = lease

    @property
    def conn(self) -> psycopg.Connection[Any]:
        return self._connection()

    def load(self, delivery_id: str) -> WebhookDelivery | None:
        if uuid_text(delivery_id) is None:
            return None
        row = self.conn.execute(DELIVERY,
                                (delivery_id,)).fetchone()
        return delivery_from_row(row) if row else None

    def load_many(self, ids: list[str]) -> dict[str, WebhookDelivery]:
        rows = self.conn.execute(DELIVERIES,
                                 (ids,)).fetchall()
        return {str(r["id"]): delivery_from_row(r) for r in rows}

    def hooked_merchants(self, merchant_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The merchants among ``merchant_ids`` that have a webhook URL, with their URL and
        secret as they are now (``webhook_url``, ``webhook_secret``)."""
        return {str(r["id"]): r for r in self.conn.execute(
            "SELECT id, webhook_url, webhook_secret FROM merchants"
            " WHERE id = ANY(%s::uuid[]) AND webhook_url IS NOT NULL", (merchant_ids,))}

    def existing_keys(self, merchant_ids: list[str], keys: list[str]) -> set[tuple[str, str]]:
        return {(str(r["merchant_id"]), r["event_key"]) for r in self.conn.execute(
            "SELECT merchant_id, event_key FROM webhook_logs"
            " WHERE merchant_id = ANY(%s::uuid[]) AND event_key = ANY(%s)",
            (merchant_ids, keys))}

    def claim(self, ids: list[str], now: datetime, durable: bool = True) -> list[dict[str, Any]]:
        """Lease the deliveries among ``ids`` that are due at ``now`` and not leased.

        ``durable=False`` commits without waiting for the WAL flush: a lease only keeps live
        processes from sending one attempt together and expires anyway, so losing it with a
        PostgreSQL crash at worst repeats an attempt that was in flight - as any crash may."""
        if not ids:
            return []
        params = {"owner": self._owner, "until": now + self._lease, "ids": ids, "now": now}
        if durable:
            return self.conn.execute(_CLAIM_IDS, params).fetchall()
        with self.conn.transaction():
            self.conn.execute("SET LOCAL synchronous_commit = off")
            return self.conn.execute(_CLAIM_IDS, params).fetchall()

    def claim_next(self, merchant_id: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Lease up to ``limit`` of the merchant's due deliveries, oldest due first."""
        return self.conn.execute(_CLAIM_NEXT, {
            "owner": self._owner, "until": now + self._lease, "merchant": merchant_id,
            "limit": limit, "now": now}).fetchall()

    def overdue(self, cutoff: datetime, now: datetime, skip: list[str],
                limit: int) -> list[dict[str, Any]]:
        """Due by ``cutoff``, not leased, of merchants not in ``skip``: the sweeper's pick."""
        return self.conn.execute(
            "SELECT id, merchant_id FROM webhook_logs WHERE status IN ('pending', 'retrying')"
            " AND next_retry_at <= %s AND (lease_until IS NULL OR lease_until <= %s)"
            " AND merchant_id <> ALL(%s::uuid[]) ORDER BY next_retry_at LIMIT %s",
            (cutoff, now, skip, limit)).fetchall()

    def release_leases(self, tokens: list[str]) -> None:
        if tokens:
            self.conn.execute("UPDATE webhook_logs SET lease_until = NULL WHERE"
                              " lease_token = ANY(%s::uuid[])", (tokens,))

    def event_seq_before(self, stream: str, before: datetime) -> int:
        row = self.conn.execute("SELECT coalesce(max(seq), 0) AS seq FROM outbox"
                                " WHERE stream = %s AND created_at < %s",
                                (stream, before)).fetchone()
        return int(row["seq"]) if row else 0

    def events_after(self, stream: str, seq: int, until: datetime,
                     limit: int) -> list[dict[str, Any]]:
        return self.conn.execute(
            "SELECT seq, payload FROM outbox WHERE stream = %s AND seq > %s AND created_at <= %s"
            " ORDER BY seq LIMIT %s", (stream, seq, until, limit)).fetchall()
