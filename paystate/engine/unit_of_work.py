"""One transaction per decision: entity rows (compare-and-set on ``version``), transition rows and
event rows, committed together or not at all; and the jobs to publish once they are."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg

from .errors import Conflict, KeyTaken
from .ids import new_uuid

TABLES = {"order": "orders", "payment": "payments", "refund": "refunds",
          "webhook_delivery": "webhook_logs", "idempotency_key": "idempotency_keys"}


def _column(name: str) -> str:
    # The machines call the field `state`; the tables and the API call it `status`.
    return "status" if name == "state" else name


@dataclass
class OutboxRow:
    stream: str
    payload: dict[str, Any]
    id: str = field(default_factory=new_uuid)
    # False for a job: published after the commit but not written to the outbox, since the
    # sweepers find the work in its object's row if the entry is lost (engine/outbox.py).
    stored: bool = True


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
        """An event: stored in the outbox with this decision, published after the commit."""
        self.outbox.append(OutboxRow(stream, payload))

    def signal(self, stream: str, payload: dict[str, Any]) -> None:
        """A job: published after the commit, not stored (a sweeper is its durable path)."""
        self.outbox.append(OutboxRow(stream, payload, stored=False))

    def commit(self, conn: psycopg.Connection[Any]) -> None:
        """Write this decision in one transaction of its own (see ``commit_all``)."""
        commit_all(conn, [self])


def commit_all(conn: psycopg.Connection[Any], uows: list[UnitOfWork]) -> None:
    """Write several decisions in ONE statement, so in one transaction, or none of them.

    Raises ``Conflict`` if any compare-and-set lost (a version moved), a required row is no
    longer in its state, or an insert's id exists already (another process created it first);
    nothing is written then and the caller decides again.

    The statement is a chain of data-modifying CTEs, each taking its rows as one JSON document
    (``jsonb_populate_recordset`` types them by the table's own row type), and ends with
    ``paystate_check``, which raises if a CTE touched fewer rows than it had to. A batch of any
    size is so one round trip and, on an autocommit connection, its own commit: the client-side
    cost per row is a dict in a JSON document, not a statement of its own. Several changes of
    one row in a batch are folded into one (a statement changes a row at most once).
    """
    if not any(u.inserts or u.updates for u in uows):
        return
    sql, params = _statement(_fold(uows))
    try:
        conn.execute(sql, params)
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.table_name == TABLES["idempotency_key"]:
            raise KeyTaken("the idempotency key exists already") from exc
        raise Conflict(f"insert collided with an existing row: {exc.diag.table_name}") from exc
    except psycopg.Error as exc:
        if exc.sqlstate == CHECK_FAILED:
            raise Conflict(exc.diag.message_primary or "a compare-and-set lost") from exc
        raise
    if not conn.autocommit:
        # On a connection whose reads opened a transaction, end it too, or nothing is durable.
        conn.commit()


#: SQLSTATE raised by ``paystate_check`` (migration 007).
CHECK_FAILED = "PS409"


@dataclass
class _Plan:
    # (table, columns) -> rows to insert, each a column -> value dict
    inserts: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = field(default_factory=dict)
    # (table, changed columns, version bump) -> rows: id, version (expected), the changes
    updates: dict[tuple[str, tuple[str, ...], int], list[dict[str, Any]]] = field(
        default_factory=dict)
    # (table, status) -> ids that must still be in that status
    required: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def _fold(uows: list[UnitOfWork]) -> _Plan:
    """The batch as at most one write per row: a row inserted and then changed is inserted as
    changed; a row changed twice is changed once, from the first expected version, by both
    bumps. Changes to one row must follow each other's versions (they do, decided in order in
    memory); if they do not, the batch is refused as a conflict."""
    inserted: dict[tuple[str, str], dict[str, Any]] = {}
    changed: dict[tuple[str, str], tuple[int, int, dict[str, Any]]] = {}
    rows: list[tuple[str, dict[str, Any]]] = []
    plan = _Plan()
    for u in uows:
        for table, entity_id, state in u.requirements:
            plan.required.setdefault((table, state), set()).add(entity_id)
        for table, columns in u.inserts:
            row = dict(columns)
            rows.append((table, row))
            if "id" in row:
                inserted[(table, str(row["id"]))] = row
        for table, entity_id, expected, changes in u.updates:
            new = inserted.get((table, entity_id))
            if new is not None:
                if new.get("version") != expected:
                    raise Conflict(f"{table} {entity_id} changed out of order in one batch")
                new.update(changes, version=expected + 1, updated_at=u.at)
                continue
            first, bumps, merged = changed.get((table, entity_id), (expected, 0, {}))
            if first + bumps != expected:
                raise Conflict(f"{table} {entity_id} changed out of order in one batch")
            changed[(table, entity_id)] = (first, bumps + 1, {**merged, **changes,
                                                              "updated_at": u.at})
        for kind, entity_id, seq, from_state, to_state, trigger, data in u.transitions:
            rows.append(("transitions", {
                "entity_type": kind, "entity_id": entity_id, "seq": seq,
                "from_state": from_state, "to_state": to_state, "trigger": trigger,
                "data": data, "at": u.at}))
        for out in (o for o in u.outbox if o.stored):
            rows.append(("outbox", {"id": out.id, "stream": out.stream, "payload": out.payload,
                                    "created_at": u.at}))
    for table, row in rows:
        plan.inserts.setdefault((table, tuple(row)), []).append(row)
    for (table, entity_id), (first, bumps, merged) in changed.items():
        plan.updates.setdefault((table, tuple(merged), bumps), []).append(
            {**merged, "id": entity_id, "version": first})
    return plan


def _statement(plan: _Plan) -> tuple[str, list[Any]]:
    ctes: list[str] = []
    checks: list[str] = []
    params: list[Any] = []
    counts: list[int] = []
    for n, ((table, state), ids) in enumerate(plan.required.items()):
        ctes.append(f'r{n} AS (SELECT 1 FROM "{table}" WHERE id = ANY(%s) AND status = %s'
                    " FOR SHARE)")
        params += [sorted(ids), state]
        checks.append(f"paystate_check((SELECT count(*) FROM r{n}) = %s,"
                      f" '{table} no longer {state}')")
        counts.append(len(ids))
    for n, ((table, columns), rows) in enumerate(plan.inserts.items()):
        names = ", ".join(f'"{c}"' for c in columns)
        ctes.append(f'i{n} AS (INSERT INTO "{table}" ({names}) SELECT {names}'
                    f' FROM jsonb_populate_recordset(NULL::"{table}", %s::jsonb))')
        params.append(_json(rows))
    for n, ((table, columns, bumps), rows) in enumerate(plan.updates.items()):
        sets = ", ".join(f'"{c}" = v."{c}"' for c in columns)
        # ``t.id = ANY`` as well as the join: the planner cannot see how few rows the JSON
        # holds (it guesses 100) and, on a table of a few thousand rows, hashes them against a
        # scan of the whole table; the id list makes it read just those rows by primary key.
        ctes.append(f'u{n} AS (UPDATE "{table}" AS t SET {sets}, version = t.version + {bumps}'
                    f' FROM jsonb_populate_recordset(NULL::"{table}", %s::jsonb) AS v'
                    " WHERE t.id = ANY(%s) AND t.id = v.id AND t.version = v.version"
                    " RETURNING 1)")
        params += [_json(rows), [r["id"] for r in rows]]
        checks.append(f"paystate_check((SELECT count(*) FROM u{n}) = %s,"
                      f" '{table} moved past an expected version')")
        counts.append(len(rows))
    final = " AND ".join(checks) or "true"
    # The counts are parameters, not literals: the text then depends only on which tables and
    # columns a batch writes, so psycopg prepares the few texts there are and PostgreSQL stops
    # planning each batch afresh (a plan of these statements costs more than running them).
    return f"WITH {', '.join(ctes)} SELECT {final}", params + counts


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS, default=_other).decode()


def _other(value: Any) -> str:
    """What orjson leaves to us: bytes (a bytea column reads a JSON string in PostgreSQL's hex
    format) and subclasses of datetime (freezegun's, in tests that freeze time)."""
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a batch commit")
