"""Time travel over the persisted transitions: one object, or the counts per state, as they
stood at an instant. Reads on the async pool; the rebuild itself is ``machines/history.py``.

- ``steps_of``: an object's transition rows, oldest first (one query on the unique
  ``(entity_id, seq)`` index).
- ``object_as_of`` / ``delivery_as_of``: a payment or refund object, or a ``webhook_logs`` row,
  rebuilt as of an instant (None: it did not exist yet).
- ``counts_as_of``: how many payments, refunds and deliveries sat in each state at an instant,
  for one merchant and mode or for every merchant (the operators' console).
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime
from typing import Any, TypeVar

from ..machines.history import Step, state_as_of
from ..machines.spec import MachineSpec
from ..machines.webhook import WEBHOOK_DELIVERY
from .db import PooledConnection, ReadPool, run_pooled

T = TypeVar("T")

STEPS = ("SELECT seq, from_state, to_state, trigger, data, at FROM transitions"
         " WHERE entity_id = %s ORDER BY seq")

#: A plan with a subplan per object looks costly enough for PostgreSQL to compile it (JIT):
#: measured at 0.5-0.7 s on 37,500 payments, twenty times the query's own run.
NO_JIT = "SET LOCAL jit = off"

#: The machines counted, with the table of their objects.
COUNTED = {"payment": "payments", "refund": "refunds", "webhook_delivery": "webhook_logs"}


def _counts_sql(table: str, machine: str, where: str) -> str:
    # Per object, its state at the instant: the row's own when no transition came after it
    # (``updated_at`` is its last transition's ``at``), else the latest transition at or before
    # the instant, one probe of the (entity_id, seq) index read backwards. Objects created
    # after the instant are not counted.
    entity = "o.id::text" if table == "webhook_logs" else "o.id"
    return (f"SELECT '{machine}' AS machine, s.status, count(*) AS n FROM ("
            f" SELECT CASE WHEN o.updated_at <= %(at)s THEN o.status ELSE"
            f" (SELECT t.to_state FROM transitions t WHERE t.entity_id = {entity}"
            f" AND t.at <= %(at)s ORDER BY t.seq DESC LIMIT 1) END AS status"
            f" FROM {table} o WHERE o.created_at <= %(at)s{where}) s"
            f" WHERE s.status IS NOT NULL GROUP BY s.status")


def counts_sql(merchant: bool, mode: bool) -> str:
    """The statement behind ``counts_as_of`` (parameters ``at``, ``merchant_id``,
    ``livemode``), filtered on the merchant and on the mode when asked."""
    where = (" AND o.merchant_id = %(merchant_id)s" if merchant else "") + (
        " AND o.livemode = %(livemode)s" if mode else "")
    return " UNION ALL ".join(_counts_sql(table, machine, where)
                              for machine, table in COUNTED.items())


async def counts_as_of(pool: ReadPool, at: datetime, merchant_id: str | None = None,
                       livemode: bool | None = None) -> dict[str, dict[str, int]]:
    """``{machine: {state: n}}`` at ``at`` for the merchant (every merchant when None) and
    mode (both when None); a state nobody was in is left out. One round trip. Runs on the
    caller's event loop; 503-class errors as every pooled read."""
    sql = counts_sql(merchant_id is not None, livemode is not None)
    params = {"at": at, "merchant_id": merchant_id, "livemode": livemode}

    async def run(conn: PooledConnection) -> list[dict[str, Any]]:
        async with conn.transaction():
            await conn.execute(NO_JIT)
            return await (await conn.execute(sql, params)).fetchall()

    out: dict[str, dict[str, int]] = {name: {} for name in COUNTED}
    for row in await run_pooled(pool, run):
        out[row["machine"]][row["status"]] = int(row["n"])
    return out


async def steps_of(pool: ReadPool, entity_id: str) -> list[Step]:
    """The object's transitions, oldest first."""
    async def run(conn: PooledConnection) -> list[dict[str, Any]]:
        return await (await conn.execute(STEPS, (entity_id,))).fetchall()
    return [Step.of(r) for r in await run_pooled(pool, run)]


def object_as_of(spec: MachineSpec, obj: T, steps: list[Step], at: datetime) -> T | None:
    """A payment or refund (a dataclass with ``state``) as it stood at ``at``."""
    now = {f.name: getattr(obj, f.name) for f in fields(obj)}  # type: ignore[arg-type]
    rebuilt = state_as_of(spec, now, steps, at)
    return None if rebuilt is None else replace(obj, **rebuilt)  # type: ignore[type-var]


def row_as_of(spec: MachineSpec, row: dict[str, Any], steps: list[Step], at: datetime,
              schedule: tuple[int, ...] | None = None) -> dict[str, Any] | None:
    """A row of ``payments``, ``refunds`` or ``webhook_logs`` (``status`` holds the machine
    state) as it stood at ``at``. ``schedule``: a delivery's configured one, for rows written
    before transitions kept theirs."""
    rebuilt = state_as_of(spec, {**row, "state": row["status"]}, steps, at,
                          defaults={"schedule": schedule} if schedule else None)
    if rebuilt is None:
        return None
    rebuilt["status"] = rebuilt.pop("state")
    return rebuilt


def delivery_as_of(row: dict[str, Any], steps: list[Step], at: datetime,
                   schedule: tuple[int, ...] | None) -> dict[str, Any] | None:
    """A ``webhook_logs`` row as it stood at ``at`` (``row_as_of`` of the delivery machine)."""
    return row_as_of(WEBHOOK_DELIVERY, row, steps, at, schedule)
