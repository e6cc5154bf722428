"""The outbox relay: rows a crash left unpublished reach their stream; old rows are pruned."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import redis

from paystate.config import Settings
from paystate.engine.clock import ManualClock
from paystate.engine.outbox import OutboxRelay
from tests.support import make_settings


def insert_row(settings: Settings, stream: str, at: datetime,
               published: datetime | None = None) -> str:
    row_id = str(uuid.uuid4())
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO outbox (id, stream, payload, created_at, published_at)"
                     " VALUES (%s, %s, %s, %s, %s)",
                     (row_id, stream, json.dumps({"event": "payment.created", "n": 1}), at,
                      published))
    return row_id


def published_at(settings: Settings, row_id: str) -> datetime | None:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT published_at FROM outbox WHERE id = %s", (row_id,)).fetchone()
    return row[0] if row else None


def test_relay_publishes_what_a_crash_left_and_prunes_old_rows(base_settings: Settings) -> None:
    settings = make_settings()
    stream = f"{settings.stream_prefix}:events"
    now = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    clock = ManualClock(now)
    client = redis.Redis.from_url(settings.redis_url)
    relay = OutboxRelay(settings.database_url, client, clock, grace=timedelta(seconds=5))
    # Committed, then the process died before XADD: unpublished.
    stale = insert_row(settings, stream, now - timedelta(seconds=10))
    fresh = insert_row(settings, stream, now - timedelta(seconds=1))  # the live publisher's
    old = insert_row(settings, stream, now - timedelta(days=8), published=now - timedelta(days=8))

    assert relay.run_once() >= 1
    assert published_at(settings, stale) == now
    assert published_at(settings, fresh) is None  # within the grace: left to its publisher
    entries = client.xrange(stream)
    assert [e[1][b"outbox_id"].decode() for e in entries] == [stale]
    assert json.loads(entries[0][1][b"payload"]) == {"event": "payment.created", "n": 1}

    assert relay.prune_once() >= 1
    with psycopg.connect(settings.database_url) as conn:
        ids = {str(r[0]) for r in conn.execute("SELECT id FROM outbox WHERE id = ANY(%s::uuid[])",
                                               ([stale, fresh, old],))}
    assert ids == {stale, fresh}
    relay.stop()
