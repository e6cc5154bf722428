"""The batch commit's statement text depends only on which tables and columns a batch writes, not
on how many rows: psycopg prepares a text it sees again, so PostgreSQL plans each shape once
instead of every batch; and updates name their ids, so the plan reads rows by primary key."""

from __future__ import annotations

from datetime import UTC, datetime

from paystate.engine.unit_of_work import UnitOfWork, _fold, _statement

AT = datetime(2031, 1, 1, tzinfo=UTC)


def settle(n: int) -> UnitOfWork:
    """``n`` payments settled in one batch: an update, a transition, an event and a job each."""
    uow = UnitOfWork(at=AT)
    for i in range(n):
        uow.update("payment", f"pay_{i}", 1, {"state": "success"})
        uow.record_transition("payment", f"pay_{i}", 2, "pending", "success", "settle", {})
        uow.emit("p:events", {"id": f"evt_{i}"})
        uow.signal("p:jobs:webhooks", {"payment_id": f"pay_{i}"})
        uow.require("order", f"order_{i}", "created")
    return uow


def test_the_text_is_the_same_for_any_number_of_rows() -> None:
    one, params_one = _statement(_fold([settle(1)]))
    many, params_many = _statement(_fold([settle(7)]))
    assert one == many
    # The counts the checks compare with are the last parameters: 1 required order and 1
    # updated payment, then 7 and 7.
    assert params_one[-2:] == [1, 1] and params_many[-2:] == [7, 7]


def test_updates_name_their_ids_and_jobs_are_not_stored() -> None:
    sql, params = _statement(_fold([settle(3)]))
    assert 'UPDATE "payments" AS t' in sql and "t.id = ANY(%s)" in sql
    assert ["pay_0", "pay_1", "pay_2"] in params
    stored = [p for p in params if isinstance(p, str) and "evt_" in p]
    assert len(stored) == 1 and "p:jobs:webhooks" not in "".join(
        p for p in params if isinstance(p, str))
