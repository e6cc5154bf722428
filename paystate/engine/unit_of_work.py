"""One transaction per decision: entity rows (compare-and-set on ``version``), transition rows and
outbox rows, committed together or not at all."""

from __future__ import annotations

import json
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
    id: int | None = None


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

    def insert(self, kind: str, columns: dict[str, Any]) -> None:
        self.inserts.append((TABLES[kind], {_column(k): v for k, v in columns.items()}))

    def update(self, kind: str, entity_id: str, expected_version: int,
               changes: dict[str, Any]) -> None:
        self.updates.append((TABLES[kind], entity_id, expected_version,
                             {_column(k): v for k, v in changes.items()}))

    def record_transition(self, kind: str, entity_id: str, seq: int, from_state: str | None,
                          to_state: str, trigger: str, data: dict[str, Any]) -> None:
        self.transitions.append((kind, entity_id, seq, from_state, to_state, trigger, data))

    def emit(self, stream: str, payload: dict[str, Any]) -> None:
        self.outbox.append(OutboxRow(stream, payload))

    def commit(self, conn: psycopg.Connection[Any]) -> None:
        """Write everything in one transaction; raise ``Conflict`` if a version moved."""
        with conn.transaction():
            for table, columns in self.inserts:
                names = ", ".join(columns)
                marks = ", ".join(["%s"] * len(columns))
                try:
                    conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                                 [_adapt(v) for v in columns.values()])
                except psycopg.errors.UniqueViolation as exc:
                    # Another process created this id first (two holders of one idempotency
                    # key): decide again, and the create finds the object.
                    raise Conflict(f"{table} {columns.get('id')} exists already") from exc
            for table, entity_id, expected, changes in self.updates:
                sets = ", ".join(f"{k} = %s" for k in changes)
                cur = conn.execute(
                    f"UPDATE {table} SET {sets}, version = version + 1, updated_at = %s"
                    f" WHERE id = %s AND version = %s",
                    [*(_adapt(v) for v in changes.values()), self.at, entity_id, expected],
                )
                if cur.rowcount != 1:
                    raise Conflict(f"{table} {entity_id} moved past version {expected}")
            if self.transitions:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO transitions (entity_type, entity_id, seq, from_state,"
                        " to_state, trigger, data, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        [(k, i, s, f, t, trg, json.dumps(d), self.at)
                         for (k, i, s, f, t, trg, d) in self.transitions],
                    )
            if self.outbox:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO outbox (stream, payload, created_at) VALUES (%s, %s, %s)"
                        " RETURNING id",
                        [(row.stream, json.dumps(row.payload), self.at) for row in self.outbox],
                        returning=True,
                    )
                    for row in self.outbox:
                        fetched = cur.fetchone()
                        assert fetched is not None
                        row.id = fetched["id"]
                        cur.nextset()
        if not conn.autocommit:
            # The reads that led to this decision opened a transaction, which makes the block
            # above a mere savepoint: end the outer transaction too, or nothing is durable.
            conn.commit()


def _adapt(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value)
    return value
