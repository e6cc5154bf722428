"""kill -9 and an emptied Redis: every pending payment still settles, exactly once."""

from __future__ import annotations

import contextlib
import subprocess

import psycopg
import pytest
import redis

from paystate.config import Settings
from tests.support import ProcessGateway, process_env, wait_until

SETTLING = ("succeed", "fail")


def settle_counts(settings: Settings, payment_ids: list[str]) -> dict[str, int]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT entity_id, count(*) FROM transitions WHERE entity_id = ANY(%s)"
            " AND trigger = ANY(%s) GROUP BY entity_id", (payment_ids, list(SETTLING))).fetchall()
    counts = {pid: 0 for pid in payment_ids}
    counts.update({pid: n for pid, n in rows})
    return counts


def pending_count(settings: Settings, payment_ids: list[str]) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM payments WHERE id = ANY(%s)"
                           " AND status = 'pending'", (payment_ids,)).fetchone()
    assert row is not None
    return int(row[0])


def restart_redis_empty(url: str) -> None:
    """Stop the test Redis without saving and start it again with the same files: every
    stream, consumer group and pending entry is gone, as after a crash without persistence."""
    client = redis.Redis.from_url(url, decode_responses=True)
    config = {k: client.config_get(k)[k] for k in ("port", "pidfile", "logfile", "dir")}
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(nosave=True)
    wait_until(lambda: not _answers(url), 10, 0.05, "Redis to stop")
    subprocess.run(["redis-server", "--bind", "127.0.0.1", "--port", config["port"],
                    "--daemonize", "yes", "--pidfile", config["pidfile"],
                    "--logfile", config["logfile"], "--dir", config["dir"],
                    "--save", "", "--appendonly", "no"], check=True, timeout=30)
    wait_until(lambda: _answers(url), 10, 0.05, "Redis to start")
    assert redis.Redis.from_url(url).dbsize() == 0


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def create_pending(gw: ProcessGateway, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        order = gw.client.order()
        ids.append(gw.client.upi_payment(order["id"])["id"])
    return ids


@pytest.mark.parametrize(("empty_redis", "command"),
                         [(False, "serve"), (True, "serve"), (False, "serve --processes 2")],
                         ids=["kill9", "kill9-and-redis-restarted-empty",
                              "kill9-all-of-serve-processes-2"])
def test_payments_pending_at_kill9_all_settle_once(settings: Settings, empty_redis: bool,
                                                   command: str) -> None:
    # Long enough that all 15 are still pending at the kill, on a busy machine too.
    env = process_env(settings, TEST_PROCESSING_DELAY="6000")
    first = ProcessGateway(env, command=command).start()
    try:
        ids = create_pending(first, 15)
        assert pending_count(settings, ids) == 15
        first.kill9()
    finally:
        first.stop()
    if empty_redis:
        restart_redis_empty(settings.redis_url)
    second = ProcessGateway(env, command=command).start()
    try:
        wait_until(lambda: pending_count(settings, ids) == 0, 30, 0.2, "all payments to settle")
        counts = settle_counts(settings, ids)
        assert counts == {pid: 1 for pid in ids}
        for pid in ids[:3]:
            assert second.client.get(f"/api/v1/payments/{pid}").json()["status"] == "success"
    finally:
        second.stop()
