"""``commit_all`` writes a batch as one statement: these drive it directly on PostgreSQL, with
the cases a single statement needs folding for and the ways it must refuse, writing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from paystate.config import TEST_MERCHANT_ID, Settings
from paystate.engine.errors import Conflict, KeyTaken
from paystate.engine.ids import new_id
from paystate.engine.unit_of_work import UnitOfWork, commit_all

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn(base_settings: Settings):  # type: ignore[no-untyped-def]
    with psycopg.connect(base_settings.database_url, autocommit=True) as c:
        yield c


def new_order(uow: UnitOfWork, order_id: str) -> None:
    uow.insert("order", {"id": order_id, "merchant_id": TEST_MERCHANT_ID, "amount": 1000,
                         "currency": "INR", "receipt": None, "notes": {"a": [1, "x"]},
                         "state": "created", "version": 1, "created_at": uow.at,
                         "updated_at": uow.at})


def row(conn: psycopg.Connection[Any], order_id: str) -> tuple[Any, ...] | None:
    return conn.execute("SELECT status, version, receipt, notes, updated_at FROM orders"
                        " WHERE id = %s", (order_id,)).fetchone()


def test_a_row_created_and_changed_in_one_batch_is_inserted_as_changed(conn) -> None:  # type: ignore[no-untyped-def]
    order_id = new_id("order_")
    create, change = UnitOfWork(at=AT), UnitOfWork(at=AT + timedelta(seconds=1))
    new_order(create, order_id)
    change.update("order", order_id, 1, {"receipt": "r-1"})
    change.record_transition("order", order_id, 2, "created", "created", "note", {"k": 1})
    commit_all(conn, [create, change])
    assert row(conn, order_id) == ("created", 2, "r-1", {"a": [1, "x"]},
                                   AT + timedelta(seconds=1))
    seqs = conn.execute("SELECT seq, data FROM transitions WHERE entity_id = %s ORDER BY seq",
                        (order_id,)).fetchall()
    assert seqs == [(2, {"k": 1})]


def test_a_row_changed_twice_in_one_batch_gets_both_bumps(conn) -> None:  # type: ignore[no-untyped-def]
    order_id = new_id("order_")
    create = UnitOfWork(at=AT)
    new_order(create, order_id)
    commit_all(conn, [create])
    first, second = UnitOfWork(at=AT), UnitOfWork(at=AT + timedelta(seconds=2))
    first.update("order", order_id, 1, {"receipt": "r-1", "state": "attempted"})
    second.update("order", order_id, 2, {"receipt": "r-2"})
    commit_all(conn, [first, second])
    assert row(conn, order_id) == ("attempted", 3, "r-2", {"a": [1, "x"]},
                                   AT + timedelta(seconds=2))


def test_a_lost_compare_and_set_writes_nothing_of_the_batch(conn) -> None:  # type: ignore[no-untyped-def]
    kept, moved = new_id("order_"), new_id("order_")
    setup = UnitOfWork(at=AT)
    new_order(setup, moved)
    commit_all(conn, [setup])
    batch = [UnitOfWork(at=AT), UnitOfWork(at=AT)]
    new_order(batch[0], kept)
    batch[1].update("order", moved, 7, {"receipt": "stale"})  # the row is at version 1
    with pytest.raises(Conflict):
        commit_all(conn, batch)
    assert row(conn, kept) is None
    assert row(conn, moved) == ("created", 1, None, {"a": [1, "x"]}, AT)


def test_a_requirement_no_longer_met_writes_nothing(conn) -> None:  # type: ignore[no-untyped-def]
    order_id, other = new_id("order_"), new_id("order_")
    setup = UnitOfWork(at=AT)
    new_order(setup, order_id)
    commit_all(conn, [setup])
    uow = UnitOfWork(at=AT)
    uow.require("order", order_id, "paid")
    new_order(uow, other)
    with pytest.raises(Conflict):
        commit_all(conn, [uow])
    assert row(conn, other) is None
    met = UnitOfWork(at=AT)
    met.require("order", order_id, "created")
    new_order(met, other)
    commit_all(conn, [met])
    assert row(conn, other) is not None


def test_an_existing_idempotency_key_is_key_taken_and_an_existing_id_a_conflict(conn) -> None:  # type: ignore[no-untyped-def]
    def keyed(order_id: str) -> UnitOfWork:
        uow = UnitOfWork(at=AT)
        new_order(uow, order_id)
        uow.insert("idempotency_key", {
            "merchant_id": TEST_MERCHANT_ID, "scope": "", "key": "k-batch", "fingerprint": "f",
            "status": "completed", "resource_id": order_id, "response_code": 201,
            "response_body": b'{"id":"\xc3\xa9"}', "created_at": AT,
            "expires_at": AT + timedelta(hours=24)})
        return uow

    first = new_id("order_")
    commit_all(conn, [keyed(first)])
    stored = conn.execute("SELECT response_body FROM idempotency_keys WHERE key = 'k-batch'"
                          ).fetchone()
    assert stored is not None and bytes(stored[0]) == b'{"id":"\xc3\xa9"}'
    second = new_id("order_")
    with pytest.raises(KeyTaken):
        commit_all(conn, [keyed(second)])
    assert row(conn, second) is None
    again = UnitOfWork(at=AT)
    new_order(again, first)
    with pytest.raises(Conflict) as info:
        commit_all(conn, [again])
    assert not isinstance(info.value, KeyTaken)
