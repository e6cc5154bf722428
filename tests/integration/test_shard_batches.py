"""Shard batches: many decisions share one commit, and one bad decision fails only itself."""

from __future__ import annotations

import psycopg
import pytest

from paystate.config import TEST_MERCHANT_ID, Settings
from paystate.engine import commands as c
from paystate.engine.ids import new_id
from paystate.machines.errors import ValidationError
from paystate.machines.payment import UNRESERVED_REFUND
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


def test_settlements_meeting_a_cold_shard_are_decided_together(
        base_settings: Settings) -> None:
    """A worker's shard settles payments another process created: it has none of them cached.
    A batch of settlements is read in one go and still decides each one right: two payments of
    one order in one batch pay it once, and an unknown payment fails only its own command."""
    maker = ThreadGateway(make_settings(shards=1), worker=False).start()
    settler = ThreadGateway(make_settings(shards=1), worker=False).start()
    try:
        assert maker.runtime is not None and settler.runtime is not None
        orders = [order() for _ in range(20)]
        payments = [c.CreatePayment(order_id=o.order_id, payment_id=new_id("pay_"),
                                    merchant_id=TEST_MERCHANT_ID, method="upi", vpa="a@ok")
                    for o in orders]
        twin = c.CreatePayment(order_id=orders[0].order_id, payment_id=new_id("pay_"),
                               merchant_id=TEST_MERCHANT_ID, method="upi", vpa="b@ok")
        creates: list[c.Command] = [*orders, *payments, twin]
        for cmd in creates:
            assert maker.runtime.router.submit(cmd).exception(timeout=30) is None

        settles = [c.SettlePayment(order_id=p.order_id, payment_id=p.payment_id, success=True)
                   for p in [*payments, twin]]
        unknown = c.SettlePayment(order_id=orders[1].order_id, payment_id="pay_missing00000",
                                  success=True)
        futures = [settler.runtime.router.submit(cmd) for cmd in [*settles, unknown]]
        outcomes = [f.exception(timeout=30) for f in futures]
        assert [type(e).__name__ for e in outcomes] == ["NoneType"] * 21 + ["NotFound"]
        states = {p.payment_id: maker.client.get(f"/api/v1/payments/{p.payment_id}").json()
                  for p in [*payments, twin]}
        assert [states[p.payment_id]["status"] for p in payments] == ["success"] * 20
        assert states[twin.payment_id]["status"] == "failed"
        assert states[twin.payment_id]["error_code"] == "ORDER_ALREADY_PAID"
        for o in orders:
            assert maker.client.get(f"/api/v1/orders/{o.order_id}").json()["status"] == "paid"
        # The settler's decisions shared commits: batches, not one settlement at a time.
        registry = settler.runtime.engine.metrics.registry  # type: ignore[union-attr]
        count = registry.get_sample_value("paystate_shard_batch_size_count")
        assert count is not None and count < 21
    finally:
        settler.stop()
        maker.stop()


def test_a_refusal_on_a_cached_copy_is_decided_again_on_the_row(
        one_shard: ThreadGateway, settings: Settings) -> None:
    """The shard cached the payment as pending; another process settled it. Capture and refund
    must be decided on the committed row, not refused on the copy."""
    assert one_shard.runtime is not None
    router, client = one_shard.runtime.router, one_shard.client
    payment = client.upi_payment(client.order(10000)["id"])  # cached here as pending
    with psycopg.connect(settings.database_url) as conn:  # "another process" settles it
        conn.execute("UPDATE payments SET status = 'success', version = version + 1"
                     " WHERE id = %s", (payment["id"],))
        conn.execute("UPDATE orders SET status = 'paid', paid_payment_id = %s,"
                     " version = version + 1 WHERE id = %s", (payment["id"], payment["order_id"]))
    captured = router.submit(c.CapturePayment(order_id=payment["order_id"],
                                              payment_id=payment["id"],
                                              merchant_id=TEST_MERCHANT_ID, amount=None))
    assert captured.result(timeout=10).captured is True


def test_a_refund_that_can_never_settle_is_declined_with_its_reason(
        one_shard: ThreadGateway, settings: Settings) -> None:
    """A settlement that the committed rows refuse is not retried for ever: the refund is
    declined, and its transition says why."""
    assert one_shard.runtime is not None
    router, client = one_shard.runtime.router, one_shard.client
    payment = client.upi_payment(client.order(10000)["id"])
    router.submit(c.SettlePayment(order_id=payment["order_id"], payment_id=payment["id"],
                                  success=True)).result(timeout=10)
    refund = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 500}).json()
    with psycopg.connect(settings.database_url) as conn:  # the reservation is lost
        conn.execute("UPDATE payments SET amount_refund_pending = 0, version = version + 1"
                     " WHERE id = %s", (payment["id"],))
    settled = router.submit(c.SettleRefund(order_id=payment["order_id"],
                                           refund_id=refund["id"]))
    assert settled.result(timeout=10).state == "failed"
    last = client.get(f"/api/v1/refunds/{refund['id']}/transitions").json()[-1]
    assert (last["to_state"], last["data"]["reason"]) == ("failed", UNRESERVED_REFUND)
