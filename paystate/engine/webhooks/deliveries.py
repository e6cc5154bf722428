"""The dispatcher actor's reads and claims of delivery rows, on its connection and thread.

Claims and lease releases are the only writes here; what the actor decides (new deliveries,
recorded attempts, transitions) is written through its ``UnitOfWork``
(``engine/unit_of_work.py``). The front's reads are in ``bridge``, the dashboard's in
``engine/dashboard_queries.py``. Also here: the reconcile's reads of the outbox's event rows.

Claiming is leasing: one UPDATE sets ``lease_owner``, a fresh ``lease_token`` and
``lease_until`` on rows that are due and not leased, skipping rows another transaction holds
(``FOR UPDATE SKIP LOCKED``), so each due attempt is claimed by exactly one process. The claim
returns the endpoint's URL and secrets as they are now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

import psycopg

from ...machines.webhook import ATTEMPT_TRIGGERS, WebhookDelivery
from ..ids import uuid_text
from ..records import BY_ID, TABLES
from .records import delivery_from_row

#: A place in the event log: (transaction id as text, seq); see ``events_after``.
EventMark = tuple[str, int]

# The claim returns each delivery with its endpoint's URL, secrets and format as they are now
# (NULL for a deleted endpoint, or none: that attempt fails and the schedule runs out).
_CLAIM = (
    "WITH c AS (UPDATE webhook_logs w SET lease_owner = %(owner)s,"
    " lease_token = gen_random_uuid(), lease_until = %(until)s"
    " WHERE w.id IN ({candidates}) RETURNING w.*)"
    " SELECT c.*, e.url AS webhook_url, e.secret AS webhook_secret, e.previous_secret,"
    " e.previous_expires_at FROM c"
    " LEFT JOIN webhook_endpoints e ON e.id = c.endpoint_id AND e.deleted_at IS NULL")
# A disabled endpoint's deliveries wait (kept, not failed) until it is enabled again.
_NOT_DISABLED = ("(endpoint_id IS NULL OR endpoint_id NOT IN (SELECT id FROM webhook_endpoints"
                 " WHERE status = 'disabled' AND deleted_at IS NULL))")
_DUE = ("status IN ('pending', 'retrying') AND next_retry_at <= %(now)s"
        " AND (lease_until IS NULL OR lease_until <= %(now)s) AND " + _NOT_DISABLED)
_CLAIM_IDS = _CLAIM.format(candidates=(
    "SELECT id FROM webhook_logs WHERE id = ANY(%(ids)s::uuid[]) AND " + _DUE
    + " FOR UPDATE SKIP LOCKED"))
# The endpoint's next due deliveries, oldest due first: what refills a freed slot. Served by
# webhook_logs_endpoint_due_idx (a lane without an endpoint is its merchant's).
_CLAIM_NEXT = _CLAIM.format(candidates=(
    "SELECT id FROM webhook_logs WHERE endpoint_id = %(lane)s AND " + _DUE
    + " ORDER BY next_retry_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"))
_CLAIM_NEXT_ORPHAN = _CLAIM.format(candidates=(
    "SELECT id FROM webhook_logs WHERE endpoint_id IS NULL AND merchant_id = %(lane)s::uuid AND "
    + _DUE + " ORDER BY next_retry_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"))
#: The live, enabled endpoints of some merchants: where their new events go.
_ENDPOINTS_OF = ("SELECT id, merchant_id, livemode, enabled_events, format, url, secret,"
                 " previous_secret, previous_expires_at FROM webhook_endpoints WHERE merchant_id = ANY(%s::uuid[]) AND status = 'enabled'"
                 " AND deleted_at IS NULL ORDER BY created_at")


# The reads of the deliveries and their attempts, for the actor here and for the fronts
# (webhooks/bridge.py, dashboard_queries.py): every statement on webhook_logs and on the attempt
# transitions has this home, but the writes, which go through unit_of_work.commit_all.
DELIVERY = "SELECT * FROM webhook_logs WHERE id = %s"
MERCHANTS_DELIVERY = ("SELECT * FROM webhook_logs WHERE id = %s AND merchant_id = %s"
                      " AND livemode = %s")
DELIVERIES = "SELECT * FROM webhook_logs WHERE id = ANY(%s::uuid[])"
DELIVERY_PROGRESS = "SELECT attempts, status FROM webhook_logs WHERE id = %s"
#: The columns of a delivery in a list, and the list's order (with db.counted_page).
LIST_COLUMNS = ("id, event, status, attempts, created_at, last_attempt_at, next_retry_at,"
                " response_code, livemode, endpoint_id, event_id")
LIST_ORDER = "created_at DESC, seq DESC"
# An attempt is the transition it caused (``machines/webhook.ATTEMPT_TRIGGERS``); its facts
# are that row's data, read back as the columns the fronts render (migration 019 moved the
# attempt rows written before into their transitions). Oldest first: seq is the order they were
# recorded in. Served by the (entity_id, seq) primary key; a transition with no attempt (create, a
# retry) is not one. ``at`` is when the POST started, which a row's own ``at`` (when it was
# recorded) stands in for only where data lacks it.
_ATTEMPT = (
    "SELECT entity_id AS delivery_id, seq, (data->>'attempt')::int AS attempt,"
    " coalesce((data->>'attempted_at')::timestamptz, at) AS at,"
    " (data->>'response_code')::int AS response_code,"
    " coalesce((data->>'duration_ms')::int, 0) AS duration_ms,"
    " data->>'response_body' AS response_body, data->>'error' AS error,"
    " data->>'worker' AS worker FROM transitions"
    " WHERE entity_type = 'webhook_delivery' AND trigger IN ("
    + ", ".join(f"'{t}'" for t in ATTEMPT_TRIGGERS) + ")")
ATTEMPTS = _ATTEMPT + " AND entity_id = %s ORDER BY seq"
ATTEMPTS_OF_MANY = _ATTEMPT + " AND entity_id = ANY(%s::text[]) ORDER BY entity_id, seq"

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

    def endpoints_of(self, merchant_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Per merchant among ``merchant_ids``, its enabled endpoints (both modes)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.conn.execute(_ENDPOINTS_OF, (merchant_ids,)):
            out.setdefault(str(row["merchant_id"]), []).append(row)
        return out

    def endpoint_for(self, merchant_id: str, livemode: bool,
                     endpoint_id: str | None) -> dict[str, Any] | None:
        """The merchant's live endpoint ``endpoint_id`` of that mode, or (None) its default."""
        if endpoint_id is None:
            return self.conn.execute(
                "SELECT * FROM webhook_endpoints WHERE merchant_id = %s AND livemode = %s"
                " AND is_default AND deleted_at IS NULL", (merchant_id, livemode)).fetchone()
        return self.conn.execute(
            "SELECT * FROM webhook_endpoints WHERE id = %s AND merchant_id = %s"
            " AND livemode = %s AND deleted_at IS NULL",
            (endpoint_id, merchant_id, livemode)).fetchone()

    def event_objects(self, event: Mapping[str, Any]) -> tuple[Any, Any]:
        """The object an event is about as it is now, and its related one (a payment's order,
        a refund's payment): what a Razorpay-format body renders."""
        kind = str(event.get("event", "")).split(".", 1)[0]
        if kind not in ("payment", "refund"):
            return None, None
        _table, from_row, _name = TABLES[kind]
        row = self.conn.execute(BY_ID[kind], (event.get("entity_id"),)).fetchone()
        if row is None:
            return None, None
        obj = from_row(row)
        related_kind, related_id = (("order", obj.order_id) if kind == "payment"
                                    else ("payment", obj.payment_id))
        related = self.conn.execute(BY_ID[related_kind], (related_id,)).fetchone()
        return obj, TABLES[related_kind][1](related) if related else None

    def existing_keys(self, endpoint_ids: list[str], keys: list[str]) -> set[tuple[str, str]]:
        return {(str(r["endpoint_id"]), r["event_key"]) for r in self.conn.execute(
            "SELECT endpoint_id, event_key FROM webhook_logs"
            " WHERE endpoint_id = ANY(%s) AND event_key = ANY(%s)", (endpoint_ids, keys))}

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

    def claim_next(self, lane: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Lease up to ``limit`` of the lane's due deliveries, oldest due first."""
        sql = _CLAIM_NEXT if lane.startswith("we_") else _CLAIM_NEXT_ORPHAN
        return self.conn.execute(sql, {
            "owner": self._owner, "until": now + self._lease, "lane": lane,
            "limit": limit, "now": now}).fetchall()

    def overdue(self, cutoff: datetime, now: datetime, skip: list[str],
                limit: int) -> list[dict[str, Any]]:
        """Due by ``cutoff``, not leased, not in the full lanes ``skip``: the sweeper's pick."""
        return self.conn.execute(
            "SELECT id, merchant_id, endpoint_id FROM webhook_logs"
            " WHERE status IN ('pending', 'retrying') AND next_retry_at <= %(cutoff)s"
            " AND (lease_until IS NULL OR lease_until <= %(now)s) AND " + _NOT_DISABLED
            + " AND coalesce(endpoint_id, merchant_id::text) <> ALL(%(skip)s)"
            " ORDER BY next_retry_at LIMIT %(limit)s",
            {"cutoff": cutoff, "now": now, "skip": skip, "limit": limit}).fetchall()

    def endpoint_health(self, succeeded: list[str], failed: list[str], now: datetime,
                        disable_after: timedelta, reason: str) -> list[str]:
        """After a batch of attempts: an endpoint that got a 2xx is healthy again; one that
        failed is failing since its first failure after its last success, and disabled once
        that is ``disable_after`` ago. Returns the endpoints disabled now. In the caller's
        transaction: a batch's attempts and the health they imply commit together."""
        if succeeded:
            self.conn.execute("UPDATE webhook_endpoints SET failing_since = NULL"
                              " WHERE id = ANY(%s) AND failing_since IS NOT NULL", (succeeded,))
        if not failed:
            return []
        self.conn.execute("UPDATE webhook_endpoints SET failing_since = %s"
                          " WHERE id = ANY(%s) AND failing_since IS NULL", (now, failed))
        return [r["id"] for r in self.conn.execute(
            "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = %s,"
            " updated_at = %s WHERE id = ANY(%s) AND status = 'enabled'"
            " AND failing_since <= %s RETURNING id",
            (reason, now, failed, now - disable_after))]

    def failed_since(self, endpoint_id: str, since: datetime,
                     limit: int) -> list[WebhookDelivery]:
        """The endpoint's failed deliveries created at ``since`` or later, oldest first."""
        return [delivery_from_row(r) for r in self.conn.execute(
            "SELECT * FROM webhook_logs WHERE endpoint_id = %s AND status = 'failed'"
            " AND created_at >= %s ORDER BY created_at LIMIT %s", (endpoint_id, since, limit))]

    def release_leases(self, tokens: list[str]) -> None:
        if tokens:
            self.conn.execute("UPDATE webhook_logs SET lease_until = NULL WHERE"
                              " lease_token = ANY(%s::uuid[])", (tokens,))

    def event_mark_before(self, stream: str, before: datetime) -> EventMark:
        """The (xid, seq) of the newest event created before ``before``: where a process's
        first reconcile starts."""
        row = self.conn.execute("SELECT xid::text AS xid, seq FROM outbox WHERE stream = %s"
                                " AND created_at < %s ORDER BY xid DESC, seq DESC LIMIT 1",
                                (stream, before)).fetchone()
        return (str(row["xid"]), int(row["seq"])) if row else ("0", 0)

    def events_after(self, stream: str, mark: EventMark, until: datetime,
                     limit: int) -> tuple[list[dict[str, Any]], EventMark]:
        """Event rows past ``mark`` in (xid, seq) order, up to the first created after
        ``until``, and the mark after them.

        Only rows whose transaction is older than every transaction still running are read: a
        transaction that began before a later one may commit after it, and its rows would sort
        behind a mark already past them. Below the oldest running xid nothing can still appear.
        """
        rows = self.conn.execute(
            "SELECT xid::text AS xid, seq, payload, created_at FROM outbox"
            " WHERE (xid, seq) > (%s::xid8, %s) AND xid < pg_snapshot_xmin(pg_current_snapshot())"
            " AND stream = %s ORDER BY xid, seq LIMIT %s",
            (mark[0], mark[1], stream, limit)).fetchall()
        taken = list(takewhile(lambda r: r["created_at"] <= until, rows))
        return taken, ((str(taken[-1]["xid"]), int(taken[-1]["seq"])) if taken else mark)
