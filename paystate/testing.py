"""pytest plugin: simulate Paystate's webhook retries in frozen time, and receive webhooks.

Registered as the ``paystate`` pytest11 entry point, so installing Paystate's test extra makes
these fixtures available in any test suite (see "Webhook retry simulation in tests" in the
README):

- ``paystate_settings``: ``Settings.from_env()`` (``DATABASE_URL``, ``REDIS_URL``); override it
  in a conftest to point elsewhere.
- ``paystate_webhook_receiver``: a ``WebhookReceiver`` on 127.0.0.1 that records every request
  and answers with scripted statuses (or a function).
- ``paystate_frozen_time``: a freezegun freezer (``real_asyncio=True``) at a fixed instant.
- ``paystate_webhooks``: a factory of ``WebhookSimulation``s: Paystate's real dispatcher actor
  and sender over the real database, one merchant, the production retry schedule, time frozen.
  ``run_schedule`` walks every retry (hours of schedule) in milliseconds.

Nothing runs at import time; freezegun is imported only by the fixtures that need it. One
module over 300 lines on purpose: the plugin's entry point names it, and merchants' test
suites import these four pieces from it.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from .config import Settings
from .engine.clock import SystemClock
from .engine.db import connect
from .engine.merchants import create_merchant
from .engine.migrations import migrate
from .engine.streams import StreamNames
from .engine.webhooks.deliveries import ATTEMPTS, DELIVERY
from .engine.webhooks.dispatcher import WebhookDispatcher
from .engine.webhooks.messages import DispatcherConfig
from .engine.webhooks.sender import AiohttpTransport, OutgoingWebhook, Transport
from .machines.webhook import PRODUCTION_SCHEDULE
from .machines.webhook_signing import verify_hex_signature

#: Where ``paystate_frozen_time`` starts: far from any real clock, so rows a simulation leaves
#: behind are never due for a real dispatcher sharing the database.
SIMULATION_START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
#: What ``WebhookSimulation.attempts`` tells of each attempt: the API's ``attempt_log`` fields.
ATTEMPT_FIELDS = ("attempt", "at", "response_code", "duration_ms", "response_body", "error")

Answer = int | tuple[int, str]


# -- a loopback receiver ----------------------------------------------------------------------

@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def verify(self, secret: str) -> bool:
        """True if ``X-Webhook-Signature`` matches the body under ``secret``."""
        return verify_hex_signature(secret, self.body, self.headers.get("x-webhook-signature", ""))


class _Server(ThreadingHTTPServer):
    # http.server's listen backlog of 5 drops concurrent connections (the client retries a
    # second later): a sender with 8 POSTs in flight needs more.
    request_queue_size = 128
    daemon_threads = True
    block_on_close = False


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (a free port) in a background thread.

    Answers come from ``respond_with(*statuses)`` (consumed in order, the last one repeats) or
    ``respond(fn)`` (``fn(request) -> status | (status, body)``; it may block, each request has
    its own thread). Header names in ``requests`` are lowercase.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ReceivedWebhook] = []
        self._script: list[Answer] = [200]
        self._fn: Callable[[ReceivedWebhook], Answer] | None = None
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = ReceivedWebhook(self.path, headers, self.rfile.read(length))
                status, body = receiver._answer(request)
                payload = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender gave up (timeout) before the answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()  # let blocked answers go
        self._server.shutdown()
        self._server.server_close()

    def respond_with(self, *answers: Answer) -> None:
        with self._lock:
            self._script, self._fn = list(answers) or [200], None

    def respond(self, fn: Callable[[ReceivedWebhook], Answer]) -> None:
        with self._lock:
            self._fn = fn

    def _answer(self, request: ReceivedWebhook) -> tuple[int, str]:
        with self._lock:
            self._requests.append(request)
            fn = self._fn
            answer = self._script[0] if len(self._script) == 1 else self._script.pop(0)
        if fn is not None:
            answer = fn(request)
        return answer if isinstance(answer, tuple) else (answer, "ok")

    @property
    def requests(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self._requests)

    def for_delivery(self, delivery_id: str) -> list[ReceivedWebhook]:
        return [r for r in self.requests if r.webhook_id == delivery_id]


# -- the simulation ---------------------------------------------------------------------------

class FunctionTransport:
    """A ``Transport`` that hands each POST to a function instead of the network:
    ``fn(request: OutgoingWebhook) -> status | (status, body)``."""

    def __init__(self, fn: Callable[[OutgoingWebhook], Answer]) -> None:
        self._fn = fn

    async def post(self, request: OutgoingWebhook, timeout: float) -> tuple[int, str]:
        answer = self._fn(request)
        return answer if isinstance(answer, tuple) else (answer, "")

    async def close(self) -> None:
        return None


class WebhookSimulation:
    """One merchant and Paystate's real dispatcher (actor and sender, no background threads)
    over the real database, under a frozen clock that only ``run_schedule``/``advance_to``
    move. Attempts go to ``url`` over HTTP, or to ``handler`` in-process."""

    def __init__(self, settings: Settings, freezer: Any, *, url: str | None = None,
                 handler: Callable[[OutgoingWebhook], Answer] | None = None,
                 schedule: Iterable[int] = PRODUCTION_SCHEDULE,
                 secret: str | None = None) -> None:
        if (url is None) == (handler is None):
            raise ValueError("give exactly one of url= or handler=")
        self.settings = settings
        self.freezer = freezer
        self.schedule = tuple(schedule)
        self.clock = SystemClock()  # frozen by freezegun like every other reader of the time
        self.url = url or "http://simulated-receiver.invalid/webhooks"
        tag = uuid.uuid4().hex[:12]
        self.merchant_id = create_merchant(
            settings.database_url, name=f"Simulation {tag}", email=f"sim-{tag}@example.com",
            api_key=f"key_sim_{tag}", api_secret=uuid.uuid4().hex, webhook_url=self.url,
            webhook_secret=secret, now=self.clock.now())
        self.streams = StreamNames(f"sim{tag}")
        self._redis = redis.Redis.from_url(settings.redis_url)
        factory: Callable[[], Transport]
        if handler is not None:
            fn = handler
            factory = lambda: FunctionTransport(fn)
        else:
            factory = lambda: AiohttpTransport(allow_private=True)
        config = DispatcherConfig(database_url=settings.database_url, streams=self.streams,
                                  schedule=self.schedule, owner=f"simulation-{tag}")
        self.dispatcher = WebhookDispatcher(config, self._redis, self.clock,
                                            transport_factory=factory).start_actor()

    @property
    def secret(self) -> str:
        return str(self._row("SELECT webhook_secret FROM merchants WHERE id = %s",
                             self.merchant_id)["webhook_secret"])

    def offsets(self) -> list[timedelta]:
        """When each attempt of a delivery that always fails is due, from its creation (the
        schedule counts from each failure; in frozen time a failure takes no time)."""
        total, out = 0, []
        for seconds in self.schedule:
            total += seconds
            out.append(timedelta(seconds=total))
        return out

    def deliver(self, event: str = "payment.success",
                data: dict[str, Any] | None = None) -> str:
        """Create a delivery of ``event`` (first attempt due now); return its id."""
        body = data if data is not None else {"payment": {"id": "pay_simulated00000",
                                                          "status": "success"}}
        return self.dispatcher.create_delivery(self.merchant_id, event, body).result(30).id

    def run_due(self) -> int:
        """Make every attempt due at the frozen now; wait until each is recorded."""
        return self.dispatcher.run_due(self.clock.now())

    def advance_to(self, when: datetime) -> None:
        self.freezer.move_to(when)

    def run_schedule(self, delivery_id: str, max_attempts: int = 50) -> list[dict[str, Any]]:
        """Attempt now, then jump the clock to each next retry and attempt again, until the
        delivery succeeds or fails; return its attempts (``at``, ``response_code``, ...)."""
        self.run_due()
        for _ in range(max_attempts):
            row = self.delivery(delivery_id)
            if row["status"] not in ("pending", "retrying") or row["next_retry_at"] is None:
                break
            if row["next_retry_at"] > self.clock.now():
                self.advance_to(row["next_retry_at"])
            self.run_due()
        return self.attempts(delivery_id)

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return self._row(DELIVERY, delivery_id)

    def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        return [{name: a[name] for name in ATTEMPT_FIELDS}
                for a in self._rows(ATTEMPTS, delivery_id)]

    def transitions(self, delivery_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT from_state, to_state, trigger, data, at FROM transitions"
                          " WHERE entity_id = %s ORDER BY seq", delivery_id)

    def close(self, keep_rows: bool = False) -> None:
        """Stop the dispatcher; delete the simulation's rows and streams unless asked not to."""
        self.dispatcher.stop()
        try:
            if not keep_rows:
                with connect(self.settings.database_url, autocommit=True) as conn, \
                        conn.transaction():
                    conn.execute("DELETE FROM transitions WHERE entity_id IN"
                                 " (SELECT id::text FROM webhook_logs WHERE merchant_id = %s)",
                                 (self.merchant_id,))
                    conn.execute("DELETE FROM webhook_logs WHERE merchant_id = %s",
                                 (self.merchant_id,))
                    conn.execute("DELETE FROM outbox WHERE stream = %s",
                                 (self.streams.webhook_jobs,))
                    conn.execute("DELETE FROM merchant_keys WHERE merchant_id = %s",
                                 (self.merchant_id,))
                    conn.execute("DELETE FROM webhook_endpoints WHERE merchant_id = %s",
                                 (self.merchant_id,))
                    conn.execute("DELETE FROM merchants WHERE id = %s", (self.merchant_id,))
            self._redis.delete(self.streams.webhook_jobs, self.streams.job_stats)
        finally:
            self._redis.close()

    def _row(self, sql: str, *params: Any) -> dict[str, Any]:
        rows = self._rows(sql, *params)
        if not rows:
            raise LookupError(f"no row for {params}")
        return rows[0]

    def _rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with connect(self.settings.database_url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def paystate_settings() -> Settings:
    """Where the simulation's database and Redis are: ``DATABASE_URL`` and ``REDIS_URL``."""
    return Settings.from_env()


@pytest.fixture
def paystate_webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def paystate_frozen_time() -> Iterator[Any]:
    """freezegun's freezer at ``SIMULATION_START``; ``real_asyncio=True`` keeps event loops
    (the sender's) on real time, so timeouts and ``asyncio.sleep`` still work, and pytest's own
    timing module stays real, so ``--durations`` reports real seconds."""
    from freezegun import freeze_time

    with freeze_time(SIMULATION_START, real_asyncio=True,
                     ignore=["_pytest.timing"]) as frozen:
        yield frozen


@pytest.fixture
def paystate_webhooks(paystate_settings: Settings,
                      paystate_frozen_time: Any) -> Iterator[Callable[..., WebhookSimulation]]:
    """``paystate_webhooks(url=... | handler=..., schedule=..., secret=...)`` -> a started
    ``WebhookSimulation``; every simulation made is closed after the test."""
    migrate(paystate_settings.database_url)
    made: list[WebhookSimulation] = []

    def factory(**kwargs: Any) -> WebhookSimulation:
        simulation = WebhookSimulation(paystate_settings, paystate_frozen_time, **kwargs)
        made.append(simulation)
        return simulation

    try:
        yield factory
    finally:
        for simulation in made:
            simulation.close()
