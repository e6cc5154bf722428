"""Migration 019 on data written before it: each webhook_attempts row joins the data of the
transition it caused, matched on the delivery, the attempt number and the POST's start (or, in
rows from before transitions kept the start, the latest attempt of that number started by the
time the transition was recorded); an attempt no transition records is appended as a
late_attempt; then the table goes. The attempt log the API reads afterwards is the one it read
before, attempt for attempt, and every history still rebuilds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from paystate.config import Settings
from paystate.engine.history import delivery_as_of
from paystate.engine.migrations import migrate
from paystate.engine.webhooks.deliveries import ATTEMPTS
from paystate.machines.history import Step
from paystate.machines.webhook import TEST_SCHEDULE
from tests.support import scratch_database

MERCHANT = "33333333-3333-4333-8333-333333333333"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SCHEDULE = list(TEST_SCHEDULE)
ATTEMPT_COLUMNS = ("attempt", "at", "response_code", "duration_ms", "response_body", "error",
                   "worker")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def delivery(conn: psycopg.Connection, status: str, attempts: int, version: int,
             updated: datetime) -> str:
    did = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO webhook_logs (id, merchant_id, event, event_key, payload, status, attempts,"
        " next_retry_at, last_attempt_at, response_code, version, created_at, updated_at)"
        " VALUES (%s, %s, 'payment.success', %s, '{}', %s, %s, NULL, NULL, NULL, %s, %s, %s)",
        (did, MERCHANT, f"k:{did}", status, attempts, version, T0, updated))
    return did


def transition(conn: psycopg.Connection, did: str, seq: int, from_state: str | None,
               to_state: str, trigger: str, data: dict[str, Any], when: datetime) -> None:
    conn.execute("INSERT INTO transitions (entity_type, entity_id, seq, from_state, to_state,"
                 " trigger, data, at) VALUES ('webhook_delivery', %s, %s, %s, %s, %s, %s, %s)",
                 (did, seq, from_state, to_state, trigger, orjson.dumps(data).decode(), when))


def attempt(conn: psycopg.Connection, did: str, number: int, started: datetime,
            code: int | None, ms: int, body: str | None, error: str | None,
            worker: str) -> dict[str, Any]:
    row = {"attempt": number, "at": started, "response_code": code, "duration_ms": ms,
           "response_body": body, "error": error, "worker": worker}
    conn.execute("INSERT INTO webhook_attempts (delivery_id, attempt, at, response_code,"
                 " duration_ms, response_body, error, worker) VALUES (%s, %s, %s, %s, %s, %s,"
                 " %s, %s)", (did, number, started, code, ms, body, error, worker))
    return row


def test_attempts_move_into_their_transitions_and_the_log_reads_the_same(
        base_settings: Settings) -> None:
    url = scratch_database(base_settings, "paystate_preattempts", before="019")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO merchants (id, name, email, webhook_secret, created_at,"
                     " updated_at) VALUES (%s, 'M', 'attempts@example.com', 'whsec_x', %s, %s)",
                     (MERCHANT, T0, T0))
        # Written by today's dispatcher: data keeps attempted_at, to the microsecond.
        recent = delivery(conn, "succeeded", 2, 3, at(6))
        transition(conn, recent, 1, None, "pending", "create", {"event": "payment.success"}, T0)
        a1 = attempt(conn, recent, 1, at(0.000123), 500, 12, "down", None, "w1")
        transition(conn, recent, 2, "pending", "retrying", "fail_attempt", {
            "attempt": 1, "attempted_at": at(0.000123).isoformat(), "response_code": 500,
            "schedule": SCHEDULE}, at(0.2))
        a2 = attempt(conn, recent, 2, at(5.5), 200, 8, "ok", None, "w2")
        transition(conn, recent, 3, "retrying", "succeeded", "succeed", {
            "attempt": 2, "attempted_at": at(5.5).isoformat(), "response_code": 200,
            "schedule": SCHEDULE}, at(6))

        # Written by 0.2.0: no attempted_at; attempt 3 was out when the merchant retried, and
        # its answer came back after the retry (an attempt row, no transition); attempt 1 of
        # the retried delivery has the number of the first one.
        old = delivery(conn, "succeeded", 1, 5, at(100))
        transition(conn, old, 1, None, "pending", "create", {"event": "payment.success"}, T0)
        b1 = attempt(conn, old, 1, at(0.5), None, 5000, None, "timed out after 5 s", "w1")
        transition(conn, old, 2, "pending", "retrying", "fail_attempt",
                   {"attempt": 1, "error": "timed out after 5 s"}, at(5.6))
        b2 = attempt(conn, old, 2, at(11), 503, 30, "busy", None, "w2")
        transition(conn, old, 3, "retrying", "retrying", "fail_attempt",
                   {"attempt": 2, "response_code": 503}, at(11.1))
        transition(conn, old, 4, "retrying", "pending", "retry", {"by": "merchant"}, at(25))
        b3 = attempt(conn, old, 3, at(21), 200, 4100, "late", None, "w1")
        b4 = attempt(conn, old, 1, at(99.9), 200, 7, "ok", None, "w2")
        transition(conn, old, 5, "pending", "succeeded", "succeed",
                   {"attempt": 1, "response_code": 200}, at(100))

        waiting = delivery(conn, "pending", 0, 1, T0)
        transition(conn, waiting, 1, None, "pending", "create", {"event": "payment.success"}, T0)

    assert "019_attempts_as_transitions" in migrate(url)

    with psycopg.connect(url, row_factory=dict_row) as conn:
        assert conn.execute("SELECT to_regclass('webhook_attempts') AS t").fetchone() == {
            "t": None}
        reloptions = conn.execute("SELECT reloptions FROM pg_class"
                                  " WHERE relname = 'webhook_logs'").fetchone()
        assert reloptions == {"reloptions": ["fillfactor=80"]}

        def log(did: str) -> list[dict[str, Any]]:
            return [{k: a[k] for k in ATTEMPT_COLUMNS}
                    for a in conn.execute(ATTEMPTS, (did,)).fetchall()]

        assert log(recent) == [a1, a2]
        # Oldest first as recorded; the late answer, recorded by the migration, comes last.
        assert log(old) == [b1, b2, b4, b3]
        assert log(waiting) == []

        steps = {did: conn.execute("SELECT * FROM transitions WHERE entity_id = %s"
                                   " ORDER BY seq", (did,)).fetchall()
                 for did in (recent, old, waiting)}
        # What a transition held stays; the attempt's facts join it.
        assert steps[recent][1]["data"] == {
            "attempt": 1, "attempted_at": at(0.000123).isoformat(), "response_code": 500,
            "schedule": SCHEDULE, "duration_ms": 12, "response_body": "down", "worker": "w1"}
        late = steps[old][-1]
        assert (late["seq"], late["from_state"], late["to_state"], late["trigger"],
                late["at"]) == (6, "succeeded", "succeeded", "late_attempt", at(100))
        assert [t["trigger"] for t in steps[waiting]] == ["create"]

        rows = {str(r["id"]): r for r in conn.execute("SELECT * FROM webhook_logs")}
        assert [(rows[d]["status"], rows[d]["attempts"], rows[d]["version"])
                for d in (recent, old, waiting)] == [
            ("succeeded", 2, 3), ("succeeded", 1, 6), ("pending", 0, 1)]
        assert rows[old]["updated_at"] == at(100)
        # Every history still follows the machine, the late attempt included; the old one now
        # knows when its attempts started.
        for did in (recent, old, waiting):
            rebuilt = delivery_as_of(rows[did], [Step.of(t) for t in steps[did]],
                                     at(1000), TEST_SCHEDULE)
            assert rebuilt is not None
            assert (rebuilt["status"], rebuilt["version"]) == (rows[did]["status"],
                                                                rows[did]["version"])
        as_of = delivery_as_of(rows[old], [Step.of(t) for t in steps[old]], at(100),
                               TEST_SCHEDULE)
        assert as_of is not None and as_of["last_attempt_at"] == at(99.9)
