"""Shard batches: many decisions share one commit, and one bad decision fails only itself."""

from __future__ import annotations

import pytest

from paystate.config import TEST_MERCHANT_ID, Settings
from paystate.engine import commands as c
from paystate.engine.ids import new_id
from paystate.machines.errors import ValidationError
from tests.support import ThreadGateway, make_settings


@pytest.fixture
def one_shard(base_settings: Settings):  # type: ignore[no-untyped-def]
    gw = ThreadGateway(make_settings(shards=1), worker=False).start()
    try:
        yield gw
    finally:
        gw.stop()


def order(receipt: str | None = None) -> c.CreateOrder:
    return c.CreateOrder(order_id=new_id("order_"), merchant_id=TEST_MERCHANT_ID, amount=1000,
                         currency="INR", receipt=receipt)


def test_an_unstorable_value_fails_only_its_own_command(one_shard: ThreadGateway) -> None:
    assert one_shard.runtime is not None
    router = one_shard.runtime.router
    commands = [order() for _ in range(20)]
    commands.insert(10, order(receipt="bad\x00receipt"))  # PostgreSQL cannot store a NUL
    futures = [router.submit(cmd) for cmd in commands]
    outcomes = []
    for f in futures:
        exc = f.exception(timeout=30)
        outcomes.append(type(exc).__name__ if exc else "ok")
    assert outcomes.count("ok") == 20
    assert outcomes[10] == ValidationError.__name__
    for cmd in commands[:10] + commands[11:]:
        r = one_shard.client.get(f"/api/v1/orders/{cmd.order_id}")
        assert r.status_code == 200
    assert one_shard.client.get(f"/api/v1/orders/{commands[10].order_id}").status_code == 404


def test_a_burst_is_committed_in_batches(one_shard: ThreadGateway) -> None:
    assert one_shard.runtime is not None and one_shard.runtime.engine is not None
    router = one_shard.runtime.router
    futures = [router.submit(order()) for _ in range(200)]
    assert all(f.exception(timeout=30) is None for f in futures)
    metrics = one_shard.runtime.engine.metrics
    count = metrics.registry.get_sample_value("paystate_shard_batch_size_count")
    total = metrics.registry.get_sample_value("paystate_shard_batch_size_sum")
    assert count is not None and total is not None and total >= 200
    assert count < 200  # at least some decisions shared a commit
