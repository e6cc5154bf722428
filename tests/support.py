"""Test support: a gateway running in a background thread (same process, real PostgreSQL and
Redis), a gateway in a subprocess (for kill -9), and a small HTTP client."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
import requests
from psycopg import sql
from tornado.httpserver import HTTPServer

from paystate.bootstrap import Runtime, build
from paystate.config import Settings
from paystate.engine.clock import ManualClock, SystemClock
from paystate.engine.merchants import seed_test_merchant
from paystate.engine.migrations import migration_files, reset_database
from paystate.engine.operators import seed_demo_operator
from paystate.http.app import make_app
from paystate.http.base import Deps
from paystate.http.guards import make_server

AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def loopback_site(handler: type[BaseHTTPRequestHandler], name: str) -> Iterator[str]:
    """Pages served by ``handler`` on a loopback port of their own: another origin than the
    gateway's, on the same host (so the same site). Yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0,
               interval: float = 0.05, message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


class Client:
    """``requests`` with the base URL and the test merchant's credentials."""

    def __init__(self, base: str, auth: dict[str, str] | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        self.auth = AUTH if auth is None else auth

    def request(self, method: str, path: str, *, auth: bool = True,
                headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        h = dict(self.auth) if auth else {}
        h.update(headers or {})
        return self.session.request(method, self.base + path, headers=h, timeout=30, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.request("PUT", path, json=json, **kw)

    # shortcuts
    def order(self, amount: int = 50000, **extra: Any) -> dict[str, Any]:
        r = self.post("/api/v1/orders", {"amount": amount, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def upi_payment(self, order_id: str, vpa: str = "shopper@okbank") -> dict[str, Any]:
        r = self.post("/api/v1/payments", {"order_id": order_id, "method": "upi", "vpa": vpa})
        assert r.status_code == 201, r.text
        return r.json()

    def wait_payment(self, payment_id: str, timeout: float = 20.0) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            body = self.get(f"/api/v1/payments/{payment_id}").json()
            return body if body["status"] != "pending" else None
        return wait_until(settled, timeout, 0.1, f"payment {payment_id} to settle")


class FreshConnections(Client):
    """A client that opens a new connection for every request, so that the kernel spreads its
    requests over the HTTP processes sharing the port."""

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        self.session.close()
        self.session = requests.Session()
        return super().request(method, path, **kw)


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid``, in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def make_settings(**overrides: Any) -> Settings:
    """Settings from the environment, in TEST_MODE with short delays, on a fresh stream prefix
    (so concurrent gateways in one test run do not read each other's streams)."""
    base = Settings.from_env()
    defaults: dict[str, Any] = {"test_mode": True, "test_processing_delay_ms": 200,
                                "sweep_grace_ms": 1000, "sweep_interval_ms": 300,
                                "stream_prefix": f"t{uuid.uuid4().hex[:10]}", "shards": 4,
                                # Every test calls from 127.0.0.1; the limits' own tests set
                                # theirs.
                                "public_rate_limit": "100000/minute",
                                "public_payment_rate_limit": "100000/minute",
                                "public_order_rate_limit": "100000/minute"}
    defaults.update(overrides)
    return replace(base, **defaults)


class ThreadGateway:
    """The whole gateway (shards, worker parts, HTTP) on an event loop in a background thread."""

    def __init__(self, settings: Settings, **build_kw: Any) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="gateway-loop",
                                        daemon=True)
        self._build_kw = build_kw
        self.runtime: Runtime | None = None
        self._server: HTTPServer | None = None
        self.client = Client(self.url)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> ThreadGateway:
        self._thread.start()

        async def up() -> None:
            self.runtime = await build(self.settings, **self._build_kw)
            assert self.runtime.engine is not None
            app = make_app(Deps(engine=self.runtime.engine, settings=self.settings,
                                extras=self.runtime.front_extras()))
            self._server = make_server(app, self.settings)
            self._server.listen(self.port, address="127.0.0.1")

        self.call(up())
        return self

    def stop(self) -> None:
        async def down() -> None:
            if self._server is not None:
                self._server.stop()
                await self._server.close_all_connections()
            if self.runtime is not None:
                await self.runtime.stop()

        try:
            self.call(down())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)


@contextmanager
def manual_gateway() -> Iterator[tuple[ThreadGateway, ManualClock]]:
    """A gateway on a clock that moves only when told; no background workers (the test runs
    the janitor or the sweeper itself). It starts 3 days back, so that moving it forward by two
    never dates rows in the future for the tests that follow, nor expires their keys, and a
    sweep reaches no other test's rows."""
    clock = ManualClock(datetime.now(UTC) - timedelta(days=3))
    with ThreadGateway(make_settings(), clock=clock, start_background=False) as gw:
        yield gw, clock


class ProcessGateway:
    """``python -m paystate serve`` in a subprocess: the thing a kill -9 test kills."""

    def __init__(self, env: dict[str, str], port: int | None = None,
                 command: str = "serve") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "PORT": str(self.port)}
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = Client(self.url)
        self.log_path = os.path.join("/tmp", f"paystate-gw-{self.port}-{uuid.uuid4().hex[:6]}.log")

    def start(self, wait_healthy: bool = True) -> ProcessGateway:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            # A session of its own: kill9 takes a supervisor and its children down together.
            self.proc = subprocess.Popen([sys.executable, "-m", "paystate", *self.command.split()],
                                         env=self.env, cwd=ROOT, stdout=log, stderr=log,
                                         start_new_session=True)
        if wait_healthy and not self.command.startswith("worker"):
            def healthy() -> bool:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"gateway exited: {self.logs()[-3000:]}")
                try:
                    return requests.get(self.url + "/health", timeout=2).status_code == 200
                except requests.RequestException:
                    return False
            wait_until(healthy, 30, 0.1, "gateway health")
            # A supervisor's children come up one by one: wait for all before the load.
            parts = self.command.split()
            if "--processes" in parts:
                # N HTTP children, and for serve a worker beside them.
                n = int(parts[parts.index("--processes") + 1]) + (parts[0] == "serve")
                wait_until(lambda: self.logs().count("paystate ready") >= n, 30, 0.1,
                           f"{n} gateway processes")
        return self

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill9(self) -> None:
        """kill -9 every process of the gateway (a supervisor's children too) at once."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TEST_MODE": "true", "TEST_PROCESSING_DELAY": "1500",
           "PAYSTATE_STREAM_PREFIX": settings.stream_prefix, "PAYSTATE_SHARDS": "4",
           "PAYSTATE_PROCESSES": "1"}
    env.update(extra)
    return env


@dataclass(frozen=True)
class Front:
    """Where an API-level test speaks HTTP: the gateway's URL, the settings it runs with (its
    database, Redis and stream prefix), and a client of the test merchant."""

    url: str
    settings: Settings
    client: Client


def separate_databases(settings: Settings, database: str, redis_db: int,
                       seed: bool = True) -> Settings:
    """``settings`` moved to a database of their own on the same PostgreSQL server (created,
    emptied, migrated and, with ``seed``, given the demo merchant) and to another numbered
    Redis database (emptied)."""
    pg = urlsplit(settings.database_url)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    database_url = urlunsplit(pg._replace(path=f"/{database}"))
    reset_database(database_url)
    if seed:
        seed_test_merchant(database_url, settings.test_merchant_password, SystemClock().now())
        seed_demo_operator(database_url, settings.test_operator_password, SystemClock().now())
    redis_url = urlunsplit(urlsplit(settings.redis_url)._replace(path=f"/{redis_db}"))
    redis.Redis.from_url(redis_url).flushdb()
    return replace(settings, database_url=database_url, redis_url=redis_url)


def deployed_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of the layout ``make run`` starts (``paystate serve`` with two HTTP
    processes and a worker), in test mode with short delays and no public rate limit."""
    env = process_env(settings, PAYSTATE_PROCESSES="2", TEST_PROCESSING_DELAY="300",
                      WEBHOOK_ALLOW_PRIVATE="true", PUBLIC_PAYMENT_ATTEMPTS="1000",
                      PUBLIC_RATE_LIMIT="100000/minute", PUBLIC_ORDER_RATE_LIMIT="100000/minute",
                      PUBLIC_PAYMENT_RATE_LIMIT="100000/minute")
    env.update(extra)
    return env


def deployed_gateway(env: dict[str, str]) -> ProcessGateway:
    """``paystate serve --processes 2`` as ``make run`` starts it (not started yet): two HTTP
    children sharing one port, and a worker child that settles payments and refunds."""
    return ProcessGateway(env, command="serve --processes 2")


# The two ways to run more than one gateway process over one PostgreSQL and one Redis: two
# separately started ``serve`` processes on their own ports, or one ``serve --processes 2``
# whose two HTTP children share a port (the kernel spreads connections over them) beside its
# worker child.
MODES = ("two-serves", "serve-processes-2")


class GatewayPair:
    """Two gateway processes as ``a`` and ``b``: two URLs, or one URL served by two."""

    def __init__(self, env: dict[str, str], mode: str) -> None:
        if mode == "two-serves":
            self.a = ProcessGateway(env).start()
            self.b = ProcessGateway(env).start()
            self._gateways = [self.a, self.b]
        else:
            self.a = self.b = ProcessGateway(env, command="serve --processes 2").start()
            self._gateways = [self.a]

    def logs(self) -> str:
        return "".join(gw.logs() for gw in self._gateways)

    def stop(self) -> None:
        for gw in self._gateways:
            gw.stop()


def scratch_database(settings: Settings, name: str, before: str) -> str:
    """A database of its own (``name``, emptied), migrated up to just before the migration
    ``before`` (e.g. "014"): where a migration test writes rows in the old shape."""
    pg = urlsplit(settings.database_url)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(pg._replace(path="/" + name))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY,"
                     " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        for version, text in migration_files():
            if version >= before:
                break
            conn.execute(text.encode())
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
    return url
