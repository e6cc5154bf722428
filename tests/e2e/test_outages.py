"""PostgreSQL or Redis down for 10 s under a running gateway: answers stay quick and in the
contract's envelope (503 SERVICE_UNAVAILABLE, never a hang or a 500 with a trace), /health names
the part that is down, and the gateway recovers by itself once the server is back.

These tests stop servers, so they run on a services instance of their own (``outagetest``, on
the test ports + 30), never on the one the rest of the suite shares.
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest
import redis
import requests

from paystate.config import Settings
from paystate.engine.clock import SystemClock
from paystate.engine.merchants import seed_test_merchant
from paystate.engine.migrations import reset_database
from tests.support import AUTH, ROOT, Client, ProcessGateway, process_env, wait_until

SERVICES = os.path.join(ROOT, "scripts", "services.sh")
OUTAGE_S = 10.0
#: A request during an outage must be answered within this (the read pool waits 5 s for a
#: connection before it gives up).
ANSWER_WITHIN_S = 7.0


@dataclass
class Instance:
    """The ``outagetest`` instance of scripts/services.sh, with stop/start per server."""

    pg_port: int
    redis_port: int
    name: str = "outagetest"

    def up(self) -> dict[str, str]:
        out = subprocess.run([SERVICES, "up", self.name, str(self.pg_port), str(self.redis_port)],
                             check=True, capture_output=True, text=True, timeout=120).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def down(self) -> None:
        subprocess.run([SERVICES, "down", self.name], check=False, timeout=120)

    def stop_postgres(self) -> None:
        admin = f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        command = [max(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")), "-D", row[0],
                   "-m", "fast", "-w", "stop"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, cwd="/", capture_output=True, timeout=60)

    def stop_redis(self) -> None:
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=self.redis_port).shutdown(nosave=True)


@pytest.fixture(scope="module")
def instance() -> Iterator[Instance]:
    pg = int(os.environ.get("PAYSTATE_TEST_PG_PORT", "54339")) + 30
    rd = int(os.environ.get("PAYSTATE_TEST_REDIS_PORT", "63809")) + 30
    inst = Instance(pg, rd)
    inst.up()
    try:
        yield inst
    finally:
        inst.down()


@contextlib.contextmanager
def running_gateway(instance: Instance, settings: Settings,
                    **env: str) -> Iterator[ProcessGateway]:
    """A gateway process on fresh data of the outage instance, with ``env`` added."""
    urls = instance.up()
    own = replace(settings, database_url=urls["DATABASE_URL"], redis_url=urls["REDIS_URL"])
    reset_database(own.database_url)
    seed_test_merchant(own.database_url, "password123", SystemClock().now())
    redis.Redis.from_url(own.redis_url).flushall()
    gw = ProcessGateway(process_env(own, TEST_PROCESSING_DELAY="500", **env)).start()
    try:
        yield gw
    finally:
        gw.stop()
        instance.up()  # a failed test must not leave a server down for the next one


@pytest.fixture
def gateway(instance: Instance, settings: Settings) -> Iterator[ProcessGateway]:
    with running_gateway(instance, settings) as gw:
        yield gw


def timed(call: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response: requests.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert elapsed < ANSWER_WITHIN_S, elapsed
    body = response.json()
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert isinstance(body["error"]["description"], str)
    assert "Traceback" not in response.text


def assert_unhealthy(client: Client, database: str, redis: str) -> None:
    """/health answers quickly, 503, naming the part that is down."""
    health, elapsed = timed(lambda: client.get("/health", auth=False))
    assert elapsed < ANSWER_WITHIN_S
    assert health.status_code == 503
    body = health.json()
    assert (body["status"], body["database"], body["redis"]) == (
        "unhealthy", database, redis), body


def healthy(client: Client) -> bool:
    try:
        return client.get("/health", auth=False).status_code == 200
    except requests.RequestException:
        return False


def test_postgres_down_10s_answers_503_then_recovers(instance: Instance,
                                                     gateway: ProcessGateway) -> None:
    client = gateway.client
    before = client.upi_payment(client.order()["id"])  # pending across the outage
    instance.stop_postgres()
    down_until = time.monotonic() + OUTAGE_S
    seen = 0
    try:
        while time.monotonic() < down_until:
            for call in (lambda: client.post("/api/v1/orders", {"amount": 5000}),
                         lambda: client.post("/api/v1/payments", {"order_id": before["order_id"],
                                                                  "method": "upi", "vpa": "a@b"}),
                         lambda: client.get(f"/api/v1/payments/{before['id']}")):
                assert_unavailable(*timed(call))
                seen += 1
            assert_unhealthy(client, database="disconnected", redis="connected")
    finally:
        instance.up()
    assert seen >= 3
    wait_until(lambda: healthy(client), 20, 0.2, "health after PostgreSQL is back")
    # No restart: the same process takes and settles new payments, and the one that was
    # pending during the outage settles exactly once.
    after = client.upi_payment(client.order()["id"])
    assert client.wait_payment(after["id"])["status"] == "success"
    assert client.wait_payment(before["id"])["status"] == "success"
    history = client.get(f"/api/v1/payments/{before['id']}/transitions").json()
    assert [t["trigger"] for t in history] == ["create", "succeed"]
    assert gateway.proc is not None and gateway.proc.poll() is None


def postgres_accepts(port: int) -> bool:
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                             connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def test_no_dead_connections_after_a_postgres_restart(instance: Instance,
                                                      settings: Settings) -> None:
    """Found in production: 15 minutes after a 10 s PostgreSQL restart, 2 of 18 concurrent
    public payments still failed with 503 AdminShutdown: the read pools kept the connections
    the restart had killed and handed them out unchecked, one failed request each. Requests
    made 5 s after the server is back must all succeed, however many connections the pools
    held before it went down."""
    roomy = {"PUBLIC_RATE_LIMIT": "100000/minute", "PUBLIC_PAYMENT_RATE_LIMIT": "100000/minute",
             "PUBLIC_ORDER_RATE_LIMIT": "100000/minute"}
    with running_gateway(instance, settings, **roomy) as gateway, \
            ThreadPoolExecutor(max_workers=30) as threads:
        client = gateway.client
        base = gateway.url

        def call(method: str, path: str, body: Any = None, auth: bool = True,
                 key: str | None = None) -> requests.Response:
            headers = dict(AUTH) if auth else {}
            if key is not None:
                headers["Idempotency-Key"] = key
            return requests.request(method, base + path, json=body, headers=headers,
                                    timeout=30)

        def burst(orders: list[dict[str, Any]]) -> list[requests.Response]:
            """30 concurrent reads and 30 concurrent public payments with keys: enough to
            grow every pool of the process to its size."""
            reads = [threads.submit(call, "GET", f"/api/v1/orders/{o['id']}") for o in orders]
            pays = [threads.submit(call, "POST", "/api/v1/payments/public",
                                   {"order_id": o["id"], "method": "upi", "vpa": "a@okbank"},
                                   False, uuid.uuid4().hex) for o in orders]
            return [f.result() for f in reads + pays]

        warm = burst([client.order() for _ in range(30)])
        assert all(r.status_code < 300 for r in warm), [r.text for r in warm]
        orders = [client.order() for _ in range(30)]
        instance.stop_postgres()
        time.sleep(2.0)  # the outage itself: nothing is asked of the gateway meanwhile
        instance.up()
        wait_until(lambda: postgres_accepts(instance.pg_port), 30, 0.1, "PostgreSQL back")
        time.sleep(5.0)  # the finding's condition: requests made well after the restart
        answers = burst(orders)
        failed = [(r.status_code, r.text) for r in answers if r.status_code >= 300]
        assert failed == [], f"{len(failed)} of {len(answers)} failed: {failed[:3]}"


def test_redis_down_10s_health_names_it_and_payments_go_on(instance: Instance,
                                                           gateway: ProcessGateway) -> None:
    """Redis is a transport: PostgreSQL holds every decision and its due time, so writes are
    still taken while Redis is down (their events wait in the outbox) and settle through the
    sweeper; what needs Redis itself (job counts) answers 503, and /health says redis."""
    client = gateway.client
    instance.stop_redis()
    made = []
    down_until = time.monotonic() + OUTAGE_S
    try:
        while time.monotonic() < down_until:
            assert_unhealthy(client, database="connected", redis="disconnected")
            assert_unavailable(*timed(lambda: client.get("/api/v1/test/jobs/status",
                                                         auth=False)))
            order, elapsed = timed(lambda: client.post("/api/v1/orders", {"amount": 5000}))
            assert order.status_code == 201 and elapsed < ANSWER_WITHIN_S, order.text
            made.append(client.upi_payment(order.json()["id"])["id"])
            time.sleep(1.0)
    finally:
        instance.up()
    wait_until(lambda: healthy(client), 20, 0.2, "health after Redis is back")
    for payment_id in made:
        assert client.wait_payment(payment_id, timeout=30)["status"] == "success"
    assert client.get("/api/v1/test/jobs/status", auth=False).status_code == 200
    assert gateway.proc is not None and gateway.proc.poll() is None


def test_a_worker_that_cannot_start_exits(instance: Instance, settings: Settings) -> None:
    """Found by the chaos run: a worker restarted while Redis was down failed in start-up
    after its shard actors had started, printed the error and stayed alive with them (actor
    threads are not daemons): never ready, never restarted. It must exit, non-zero."""
    urls = instance.up()
    own = replace(settings, database_url=urls["DATABASE_URL"], redis_url=urls["REDIS_URL"])
    with socket.socket() as s:  # a port nothing listens on: Redis "down"
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {**os.environ, **process_env(own), "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}
    proc = subprocess.Popen([sys.executable, "-m", "paystate", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode != 0
    assert b"ConnectionError" in err
