"""The webhook dispatcher of one process: the actor, the sender, and the threads that feed them.

- Events consumer: a consumer group (``webhooks``) on the events stream turns each domain event
  into a delivery for merchants with a webhook_url (the actor writes it, then the entries are
  acknowledged), and on the webhook jobs stream hands each job (one per due attempt) to a
  ``DueQueue`` that wakes the actor at its due time.
- Sweeper: PostgreSQL is the source of truth for due times (``webhook_logs.next_retry_at``);
  every ``sweep_interval`` the actor claims deliveries overdue by more than ``grace`` whatever
  Redis remembers, so a lost stream entry, a restart or a kill -9 delays an attempt by at most
  grace + interval and never loses it.
- ``run_due(now)``: the same claim with no grace, waiting until every attempt it started is
  recorded - the step a time-frozen test calls after moving the clock.

Claims are exclusive (see ``deliveries``), so the job path, the sweeper and other processes
can all race for one attempt: exactly one makes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

import pykka
import redis

from ...config import Settings
from ...machines.webhook import WebhookDelivery
from ..clock import Clock
from ..metrics import Metrics
from ..outbox import OutboxRow
from ..streams import StreamNames, autoclaim, ensure_group, read_group
from ..timers import DueQueue
from .actor import DispatcherActor
from .messages import (
    AttemptDue,
    CreateDelivery,
    CreateFromEvents,
    DispatcherConfig,
    Envelope,
    InFlightCount,
    JobRef,
    ManualRetry,
    RazorpayBodies,
    ReconcileEvents,
    Recover,
    SweepDue,
)
from .sender import AiohttpTransport, Transport, WebhookSender

log = logging.getLogger(__name__)
#: How far back a process's first reconcile looks for events the stream lost, and how often
#: it reconciles (each event row is read once per process, so this stays cheap).
RECONCILE_LOOKBACK = timedelta(minutes=15)
RECONCILE_EVERY_S = 5.0
GROUP = "webhooks"


class WebhookDispatcher:
    """Owns the dispatcher actor and its helpers. ``start_actor`` in every process (the API
    writes manual retries and test deliveries through it); ``start_worker`` where deliveries
    are made. Methods are thread-safe; none blocks on HTTP."""

    def __init__(self, config: DispatcherConfig, client: redis.Redis, clock: Clock, *,
                 transport_factory: Callable[[], Transport] | None = None,
                 allow_private: bool = False, grace: timedelta = timedelta(seconds=3),
                 sweep_interval: float = 1.0, claim_idle_ms: int = 30_000,
                 metrics: Metrics | None = None,
                 publisher: Callable[[Iterable[OutboxRow]], None] | None = None) -> None:
        self.config = config
        self._publisher = publisher
        self._metrics = metrics or Metrics()
        self._redis = client
        self._clock = clock
        self._grace = grace
        self._sweep_interval = sweep_interval
        self._claim_idle_ms = claim_idle_ms
        self.sender = WebhookSender(
            transport_factory or (lambda: AiohttpTransport(allow_private)), config.timeout_s)
        self._queue = DueQueue(clock, self._due, name="webhook-due")
        self._ref: pykka.ActorRef[Any] | None = None
        # The consumer's own connection: ``stop`` disconnects it to end a blocking read at
        # once instead of waiting out the block.
        self._reader: redis.Redis | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Job entries waiting in the DueQueue: a re-delivered copy (XAUTOCLAIM hands back
        # entries that wait longer than the idle time) is not scheduled twice.
        self._waiting: set[str] = set()
        self._lock = threading.Lock()

    @property
    def streams(self) -> StreamNames:
        return self.config.streams

    # -- lifecycle -----------------------------------------------------------------------

    def start_actor(self) -> WebhookDispatcher:
        self._ref = DispatcherActor.start(self.config, self._redis, self._clock, self.sender,
                                          self._metrics, self._publisher)
        return self

    def start_worker(self) -> None:
        for stream in (self.streams.events, self.streams.webhook_jobs):
            ensure_group(self._redis, stream, GROUP)
        self._reader = redis.Redis(connection_pool=redis.ConnectionPool(
            **self._redis.connection_pool.connection_kwargs))
        self.sender.start()
        self._queue.start()
        self._threads = [
            threading.Thread(target=self._consume, name="webhook-consumer", daemon=True),
            threading.Thread(target=self._sweep_loop, name="webhook-sweeper", daemon=True)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Threads first (no new work); then let the POSTs in flight finish and be recorded
        (at most one timeout), so a restart sends none of them twice; then the actor (releases
        the leases of any still out) and the sender (cancels those)."""
        self._stop.set()
        if self._reader is not None:
            self._reader.connection_pool.disconnect()
        if self._threads:
            self._queue.stop()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._drain(self.config.timeout_s + 1)
        if self._ref is not None:
            try:
                self._ref.stop(timeout=10)
            except pykka.ActorDeadError:
                pass
            self._ref = None
        self.sender.stop()

    def _drain(self, seconds: float) -> None:
        # Counted polls rather than a monotonic deadline: freezegun may be freezing the latter.
        for _ in range(int(seconds / 0.05)):
            if self._ref is None:
                return
            try:
                if self.submit(InFlightCount()).result(seconds) == 0:
                    return
            except Exception:  # noqa: BLE001 - a dead actor has nothing in flight
                return
            self._stop.wait(0.05)

    @property
    def alive(self) -> bool:
        return self._ref is not None and self._ref.is_alive()

    # -- commands ------------------------------------------------------------------------

    def submit(self, message: Any) -> Future:
        """Send a message to the actor; the Future completes with its reply."""
        future: Future = Future()
        if self._ref is None:
            future.set_exception(pykka.ActorDeadError("webhook dispatcher is not running"))
            return future
        self._ref.tell(Envelope(message, future))
        return future

    def recover(self, endpoint_id: str, merchant_id: str, since: datetime) -> Future[int]:
        return self.submit(Recover(endpoint_id, merchant_id, since))

    def create_delivery(self, merchant_id: str, event: str, data: Mapping[str, Any],
                        livemode: bool = False,
                        endpoint_id: str | None = None) -> Future[WebhookDelivery]:
        return self.submit(CreateDelivery(merchant_id, event, dict(data), livemode, endpoint_id))

    def retry(self, delivery_id: str, merchant_id: str) -> Future[WebhookDelivery]:
        return self.submit(ManualRetry(delivery_id, merchant_id))

    # -- steps a test can drive ------------------------------------------------------------

    def run_due(self, now: datetime | None = None, timeout: float = 30.0) -> int:
        """Make every attempt due at ``now`` (default: the clock's now) and wait until each is
        recorded; return how many were made. Call from a test thread, never from the actor."""
        now = now or self._clock.now()
        recorded: list[Future] = self.submit(SweepDue(now, now)).result(timeout)
        for future in recorded:
            future.result(timeout)
        return len(recorded)

    def sweep_once(self) -> int:
        """Start the attempts overdue by more than ``grace`` (without waiting for them)."""
        now = self._clock.now()
        return len(self.submit(SweepDue(now, now - self._grace)).result(30))

    def reconcile_once(self) -> int:
        """Create deliveries for committed events that never reached this group (lost with
        Redis): the events committed at least ``grace`` ago are checked once each. Returns how
        many deliveries were created."""
        until = self._clock.now() - self._grace
        return int(self.submit(ReconcileEvents(until, RECONCILE_LOOKBACK)).result(30))

    def poll_once(self, block_ms: int | None = None) -> int:
        """Read one batch of new events and jobs and act on it; return how many entries."""
        entries = read_group(self._reader or self._redis, GROUP, self.config.owner,
                             {self.streams.events: ">", self.streams.webhook_jobs: ">"},
                             block_ms=block_ms)
        self._handle(entries)
        return len(entries)

    # -- internals -----------------------------------------------------------------------

    def _handle(self, entries: list[tuple[str, str, dict]]) -> None:
        events = [(eid, payload) for stream, eid, payload in entries
                  if stream == self.streams.events]
        for stream, eid, payload in entries:
            if stream == self.streams.webhook_jobs:
                self._schedule(JobRef(stream, eid), payload)
        if not events:
            return
        created = self.submit(CreateFromEvents(tuple(p for _, p in events)))
        try:
            created.result(30)
        except Exception as exc:  # noqa: BLE001 - unacknowledged entries are claimed again
            log.warning("webhook deliveries not created (retried after %d ms): %s",
                        self._claim_idle_ms, exc)
            return
        try:
            self._redis.xack(self.streams.events, GROUP, *[eid for eid, _ in events])
        except redis.RedisError as exc:
            log.warning("could not acknowledge events: %s", exc)

    def _schedule(self, job: JobRef, payload: Mapping[str, Any]) -> None:
        delivery_id = payload.get("delivery_id")
        lane = payload.get("endpoint_id") or payload.get("merchant_id")
        if not delivery_id or not lane:
            log.warning("malformed webhook job %r", payload)
            self._redis.xack(job.stream, GROUP, job.entry_id)
            return
        try:
            due = datetime.fromisoformat(str(payload["due_at"]))
        except (KeyError, ValueError):
            due = self._clock.now()
        with self._lock:
            if job.entry_id in self._waiting:
                return
            self._waiting.add(job.entry_id)
        self._queue.schedule(due, AttemptDue(str(delivery_id), str(lane), job))

    def _due(self, item: AttemptDue) -> None:
        """DueQueue thread: the job's time has come."""
        if item.job is not None:
            with self._lock:
                self._waiting.discard(item.job.entry_id)
        self.submit(item)

    def _consume(self) -> None:
        streams = (self.streams.events, self.streams.webhook_jobs)
        backlog = True
        last_claim = 0.0
        while not self._stop.is_set():
            try:
                if backlog:
                    # This consumer's own unacknowledged entries from an earlier run.
                    for stream in streams:
                        self._handle(read_group(self._redis, GROUP, self.config.owner,
                                                {stream: "0"}, count=1000, block_ms=None))
                    backlog = False
                if time.monotonic() - last_claim > 5:
                    last_claim = time.monotonic()
                    for stream in streams:
                        self._handle(autoclaim(self._redis, stream, GROUP, self.config.owner,
                                               self._claim_idle_ms))
                self.poll_once(block_ms=1000)
            except redis.RedisError as exc:
                if self._stop.is_set():
                    return  # stop() cut the blocking read short
                log.warning("webhook consumer: %s", exc)
                backlog = True
                self._stop.wait(1.0)

    def _sweep_loop(self) -> None:
        last_reconcile = 0.0
        while not self._stop.wait(self._sweep_interval):
            try:
                self.sweep_once()
                if time.monotonic() - last_reconcile >= RECONCILE_EVERY_S:
                    last_reconcile = time.monotonic()
                    if made := self.reconcile_once():
                        log.warning("created %d webhook deliveries for events the stream lost",
                                    made)
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                log.warning("webhook sweeper: %s", exc)


def build_dispatcher(settings: Settings, client: redis.Redis, clock: Clock,
                     owner: str, metrics: Metrics | None = None,
                     publisher: Callable[[Iterable[OutboxRow]], None] | None = None,
                     razorpay_bodies: RazorpayBodies | None = None) -> WebhookDispatcher:
    """The dispatcher as ``bootstrap`` wires it from the settings (not started)."""
    config = DispatcherConfig(database_url=settings.database_url,
                              streams=StreamNames(settings.stream_prefix),
                              schedule=settings.webhook_retry_schedule_s, owner=owner,
                              per_lane=settings.webhook_endpoint_concurrency,
                              disable_after=timedelta(hours=settings.webhook_disable_after_hours),
                              razorpay_bodies=razorpay_bodies)
    return WebhookDispatcher(
        config, client, clock,
        allow_private=settings.test_mode or settings.webhook_allow_private,
        grace=timedelta(milliseconds=settings.sweep_grace_ms),
        sweep_interval=settings.sweep_interval_ms / 1000,
        claim_idle_ms=settings.stream_claim_idle_ms, metrics=metrics, publisher=publisher)
