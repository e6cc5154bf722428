"""One transaction per decision: entity rows (compare-and-set on ``version``), transition rows and
outbox rows, committed together or not at all."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from .errors import Conflict

TABLES = {"order": "orders", "payment": "payments", "refund": "refunds",
          "webhook_delivery": "webhook_logs", "webhook_attempt": "webhook_attempts"}


def _column(name: str) -> str:
    # The machines call the field `state`; the tables and the API call it `status`.
    return "status" if name == "state" else name


@dataclass
class OutboxRow:
    stream: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class UnitOfWork:
    at: datetime
    inserts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[str, str, int, dict[str, Any]]] = field(default_factory=list)
    transitions: list[tuple[str, str, int, str | None, str, str, dict[str, Any]]] = field(
        default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)
    # Objects whose in-memory copy was changed: dropped from the cache if the commit fails.
    touched: list[Any] = field(default_factory=list)
    # Rows that must still be in a state when the transaction commits, read without writing
    # them: (table, id, status).
    requirements: list[tuple[str, str, str]] = field(default_factory=list)

    def insert(self, kind: str, columns: dict[str, Any]) -> None:
        self.inserts.append((TABLES[kind], {_column(k): v for k, v in columns.items()}))

    def update(self, kind: str, entity_id: str, expected_version: int,
               changes: dict[str, Any]) -> None:
        self.updates.append((TABLES[kind], entity_id, expected_version,
                             {_column(k): v for k, v in changes.items()}))

    def record_transition(self, kind: str, entity_id: str, seq: int, from_state: str | None,
                          to_state: str, trigger: str, data: dict[str, Any]) -> None:
        self.transitions.append((kind, entity_id, seq, from_state, to_state, trigger, data))

    def require(self, kind: str, entity_id: str, state: str) -> None:
        """The transaction commits only if the row is still in ``state``; it is locked FOR
        SHARE, so a concurrent change of it waits for this commit or makes this one conflict,
        while any number of requirers go on side by side."""
        self.requirements.append((TABLES[kind], entity_id, state))

    def emit(self, stream: str, payload: dict[str, Any]) -> None:
        self.outbox.append(OutboxRow(stream, payload))

    def commit(self, conn: psycopg.Connection[Any]) -> None:
        """Write this decision in one transaction of its own (see ``commit_all``)."""
        commit_all(conn, [self])


def commit_all(conn: psycopg.Connection[Any], uows: list[UnitOfWork]) -> None:
    """Write several decisions in ONE transaction, or none of them.

    Raises ``Conflict`` if any compare-and-set lost (a version moved) or an insert's id exists
    already (another process created it first); the transaction is then rolled back whole and
    the caller decides again. Everything goes out in one pipeline: inserts and transition and
    outbox rows as one ``executemany`` per table, one UPDATE per changed row, then a single
    sync, so a batch costs about one round trip plus the commit.
    """
    if not any(u.inserts or u.updates for u in uows):
        return
    try:
        with conn.pipeline() as pipe, conn.transaction():
            required = [(conn.execute(f"SELECT 1 FROM {table} WHERE id = %s AND status = %s"
                                      " FOR SHARE", (entity_id, state)), table, entity_id, state)
                        for u in uows for table, entity_id, state in u.requirements]
            by_table: dict[tuple[str, tuple[str, ...]], list[list[Any]]] = {}
            for u in uows:
                for table, columns in u.inserts:
                    key = (table, tuple(columns))
                    by_table.setdefault(key, []).append([_adapt(v) for v in columns.values()])
            for (table, names), rows in by_table.items():
                marks = ", ".join(["%s"] * len(names))
                conn.cursor().executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)
            checks = []
            for u in uows:
                for table, entity_id, expected, changes in u.updates:
                    sets = ", ".join(f"{k} = %s" for k in changes)
                    cur = conn.execute(
                        f"UPDATE {table} SET {sets}, version = version + 1, updated_at = %s"
                        f" WHERE id = %s AND version = %s",
                        [*(_adapt(v) for v in changes.values()), u.at, entity_id, expected])
                    checks.append((cur, table, entity_id, expected))
            transitions = [(k, i, s, f, t, trg, json.dumps(d), u.at)
                           for u in uows for (k, i, s, f, t, trg, d) in u.transitions]
            if transitions:
                conn.cursor().executemany(
                    "INSERT INTO transitions (entity_type, entity_id, seq, from_state,"
                    " to_state, trigger, data, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    transitions)
            outbox = [(row.id, row.stream, json.dumps(row.payload), u.at)
                      for u in uows for row in u.outbox]
            if outbox:
                conn.cursor().executemany(
                    "INSERT INTO outbox (id, stream, payload, created_at) VALUES (%s, %s, %s, %s)",
                    outbox)
            pipe.sync()
            for cur, table, entity_id, state in required:
                if cur.fetchone() is None:
                    raise Conflict(f"{table} {entity_id} is no longer {state}")
            for cur, table, entity_id, expected in checks:
                if cur.rowcount != 1:
                    raise Conflict(f"{table} {entity_id} moved past version {expected}")
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"insert collided with an existing row: {exc.diag.table_name}") from exc
    if not conn.autocommit:
        # On a connection whose reads opened a transaction, the block above is a mere
        # savepoint: end the outer transaction too, or nothing is durable.
        conn.commit()


def _adapt(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value)
    return value
