"""The outbox as an insert-only event log: jobs are not stored, the reconcile's high-water mark
never passes a row that commits late, and events are pruned after 30 days."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from paystate.config import Settings
from paystate.engine.clock import ManualClock
from paystate.engine.outbox import EventLogPruner
from paystate.engine.webhooks.deliveries import Deliveries
from tests.support import ThreadGateway, make_settings, wait_until
from tests.webhooks_support import new_merchant

AT = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


def insert_event(conn: psycopg.Connection[Any], stream: str, at: datetime) -> int:
    row = conn.execute(
        "INSERT INTO outbox (id, stream, payload, created_at) VALUES (%s, %s, %s, %s)"
        " RETURNING seq", (str(uuid.uuid4()), stream,
                           json.dumps({"id": f"evt_{uuid.uuid4().hex[:14]}", "n": 1}), at),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_mark_waits_for_a_transaction_that_began_earlier_and_commits_later(
        base_settings: Settings) -> None:
    settings = make_settings()
    stream = f"{settings.stream_prefix}:events"
    reader = psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row)
    rows = Deliveries(lambda: reader, "test", timedelta(seconds=30))
    start = rows.event_mark_before(stream, AT)
    with psycopg.connect(settings.database_url) as early, \
            psycopg.connect(settings.database_url, autocommit=True) as late:
        first = insert_event(early, stream, AT)  # takes its xid and seq first, commits last
        second = insert_event(late, stream, AT)
        assert second > first
        # A mark by seq would pass `second` now and never come back for `first`.
        taken, mark = rows.events_after(stream, start, AT, 100)
        assert taken == [] and mark == start
        early.commit()
    taken, mark = rows.events_after(stream, start, AT, 100)
    assert [r["seq"] for r in taken] == [first, second]
    assert rows.events_after(stream, mark, AT, 100) == ([], mark)
    # Rows created after `until` wait for a later reconcile, and the mark stops before them.
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        newer = insert_event(conn, stream, AT + timedelta(seconds=10))
    assert rows.events_after(stream, mark, AT, 100) == ([], mark)
    taken, _ = rows.events_after(stream, mark, AT + timedelta(seconds=10), 100)
    assert [r["seq"] for r in taken] == [newer]
    reader.close()


def test_jobs_are_published_but_not_stored(base_settings: Settings) -> None:
    settings = make_settings()
    gw = ThreadGateway(settings).start()
    try:
        _, client = new_merchant(settings, gw.url)
        payment = client.upi_payment(client.order()["id"])
        with psycopg.connect(settings.database_url) as conn:
            streams = {r[0] for r in conn.execute(
                "SELECT DISTINCT stream FROM outbox WHERE payload::text LIKE %s",
                (f"%{payment['id']}%",))}
        # The events, and not the payment's settle job...
        assert streams == {f"{settings.stream_prefix}:events"}
        # ...which was published all the same: the payment settles within its delay.
        wait_until(lambda: client.get(f"/api/v1/payments/{payment['id']}").json()["status"]
                   == "success", 5, 0.05, "payment settled")
    finally:
        gw.stop()


def test_events_older_than_30_days_are_pruned_oldest_first_in_batches(
        base_settings: Settings) -> None:
    settings = make_settings()
    stream = f"{settings.stream_prefix}:events"
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        old = [insert_event(conn, stream, AT - timedelta(days=31)) for _ in range(3)]
        kept = insert_event(conn, stream, AT - timedelta(days=29))
    pruner = EventLogPruner(settings.database_url, ManualClock(AT))
    try:
        # Batches of at most two, until none is left (other tests' old rows go too).
        batches = []
        while n := pruner.prune_once(limit=2):
            batches.append(n)
        assert batches and max(batches) == 2 and sum(batches) >= 3
    finally:
        pruner.stop()
    with psycopg.connect(settings.database_url) as conn:
        left = {r[0] for r in conn.execute("SELECT seq FROM outbox WHERE seq = ANY(%s)",
                                           (old + [kept],))}
    assert left == {kept}
