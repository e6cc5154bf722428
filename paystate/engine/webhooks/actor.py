"""The dispatcher actor: the one place in a process that decides about webhook deliveries.

It creates deliveries, claims due ones (``deliveries``), hands their POSTs to the sender and
records each attempt, each decision through the delivery machine and one ``UnitOfWork``
transaction (the row with a compare-and-set on ``version``, a ``transitions`` row whose ``data``
is also the attempt's only record; the next attempt's job is published after the commit). It
never waits on HTTP: the sender queues each finished POST and wakes the actor, which records
every result queued by then in one transaction, then refills the slots they freed (``slots``).

A process killed mid-attempt leaves its lease to expire, after which any process makes that
attempt again: the only attempt that can be sent twice.

Runs on the actor's own thread. Every message is handled inside a try block, so one bad
message never stops the actor.

Longer than the project's other modules on purpose: its message handlers share the actor's
in-flight table and its one transaction per batch, and split across modules they would have
to share that state too. What is pure lives elsewhere already (the delivery machine in
``machines/webhook.py``, claiming SQL in ``deliveries.py``, slots in ``slots.py``, the POSTs in
``sender.py``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import fields
from typing import Any, TypeVar

import psycopg
import pykka
import redis

from ...machines.endpoints import disabled_reason, signing_secrets, subscribed
from ...machines.errors import InvalidTransition
from ...machines.spec import build_machine
from ...machines.webhook import (
    ACTIVE,
    WEBHOOK_DELIVERY,
    WebhookDelivery,
    delivered,
    next_attempt_at,
    trigger_after_attempt,
)
from ...machines.webhook_signing import serialise, serialise_body, signed_headers
from ..clock import Clock
from ..db import ActorConnection
from ..decisions import fire, record
from ..errors import Conflict, NotFound
from ..ids import new_id, new_uuid, uuid_text
from ..metrics import Metrics
from ..outbox import OutboxRow, publish
from ..unit_of_work import UnitOfWork
from .deliveries import Deliveries, EventMark
from .messages import (
    AttemptDone,
    AttemptDue,
    CreateDelivery,
    CreateFromEvents,
    DispatcherConfig,
    Envelope,
    InFlightCount,
    JobRef,
    ManualRetry,
    ReconcileEvents,
    RecordDone,
    Recover,
    SweepDue,
    event_key,
    key_object_id,
)
from .records import delivery_from_row, delivery_row
from .sender import AttemptResult, OutgoingWebhook, WebhookSender
from .slots import InFlight, Slots

log = logging.getLogger(__name__)
KIND = "webhook_delivery"
MAX_CONFLICT_RETRIES = 8
# Finished attempts recorded in one transaction at most.
RECORD_BATCH = 256
# Failed deliveries restarted in one transaction by a recover.
RECOVER_BATCH = 500
T = TypeVar("T")


class DispatcherActor(pykka.ThreadingActor):
    def __init__(self, config: DispatcherConfig, redis_client: redis.Redis, clock: Clock,
                 sender: WebhookSender, metrics: Metrics,
                 publisher: Callable[[Iterable[OutboxRow]], None] | None = None) -> None:
        super().__init__()
        self._metrics = metrics
        self._config = config
        self._redis = redis_client
        self._clock = clock
        self._sender = sender
        # Committed outbox rows go to the process's publisher thread when there is one.
        self._publisher = publisher
        self._db = ActorConnection(config.database_url)
        self._rows = Deliveries(self._db.get, config.owner, config.lease)
        # The place in the event log up to which events were checked for lost deliveries.
        self._reconciled: EventMark | None = None
        self._uow: UnitOfWork | None = None
        self._machine = build_machine(WEBHOOK_DELIVERY, self._before_state_change)
        self._slots = Slots(config.per_lane)
        # Finished POSTs, queued by the sender's thread; one RecordDone wakes the actor.
        self._results: deque[AttemptDone] = deque()
        self._results_lock = threading.Lock()
        self._wake_sent = False

    # -- actor plumbing ------------------------------------------------------------------

    def on_start(self) -> None:
        self._db.get()

    def on_stop(self) -> None:
        """Release this process's leases: a graceful stop lets the next process attempt at
        once instead of waiting for the leases to expire."""
        try:
            self._rows.release_leases(self._slots.tokens())
        except psycopg.Error as exc:
            log.warning("could not release webhook leases (they expire): %s", exc)
        self._db.reset()

    def on_receive(self, message: Any) -> Any:
        if not isinstance(message, Envelope):
            return None
        future = message.reply
        try:
            handler = getattr(self, "_on_" + type(message.message).__name__)
            result = handler(message.message)
        except BaseException as exc:
            if not isinstance(exc, (InvalidTransition, NotFound)):
                log.exception("webhook dispatcher failed on %s", type(message.message).__name__)
                self._db.reset()
            if not future.done():
                future.set_exception(exc)
            return None
        if not future.done():
            future.set_result(result)
        return None

    # -- decide, write, apply ------------------------------------------------------------

    def _write(self, decide: Callable[[UnitOfWork], T]) -> T:
        """Run ``decide`` (which loads what it needs, claims and fires triggers) and commit its
        unit of work, all in one transaction; on a lost compare-and-set or a duplicate insert,
        everything rolls back (claims too) and is decided again from fresh rows."""
        for _attempt in range(MAX_CONFLICT_RETRIES):
            uow = UnitOfWork(at=self._clock.now())
            self._uow = uow
            conn = self._db.get()
            try:
                with conn.transaction():
                    result = decide(uow)
                    if uow.inserts or uow.updates:
                        uow.commit(conn)
            except (Conflict, psycopg.errors.UniqueViolation):
                continue
            finally:
                self._uow = None
            if uow.outbox:
                if self._publisher is not None:
                    self._publisher(uow.outbox)
                else:
                    publish(self._redis, uow.outbox)
            return result
        raise Conflict(f"gave up after {MAX_CONFLICT_RETRIES} conflicting attempts")

    def _fire(self, delivery: WebhookDelivery, trigger: str, **kwargs: Any) -> None:
        fire(self._machine, WEBHOOK_DELIVERY, delivery, trigger, **kwargs)

    def _before_state_change(self, event: Any) -> None:
        assert self._uow is not None, "triggers fire only inside _write"
        record(self._uow, KIND, WEBHOOK_DELIVERY, event)

    def _new_delivery(self, uow: UnitOfWork, merchant_id: str, event: str, payload: str,
                      key: str, endpoint_id: str | None, event_id: str | None,
                      leased: bool = False, livemode: bool = False) -> WebhookDelivery:
        """A delivery of the serialised body ``payload`` to one endpoint, its first attempt due
        by the schedule. ``leased``: this process makes that attempt as soon as the row is
        committed (the row is written leased to it, and no job goes through Redis); a crash
        before it lets the lease expire, and the sweeper of any process makes the attempt
        then."""
        d = WebhookDelivery(
            id=new_uuid(), merchant_id=merchant_id, event=event, event_key=key,
            payload=payload, state=WEBHOOK_DELIVERY.initial,
            attempts=0, next_retry_at=next_attempt_at(1, self._config.schedule, uow.at),
            last_attempt_at=None, response_code=None,
            lease_owner=self._config.owner if leased else None,
            lease_token=new_uuid() if leased else None,
            lease_until=uow.at + self._config.lease if leased else None,
            version=1, created_at=uow.at, updated_at=uow.at, livemode=livemode,
            endpoint_id=endpoint_id, event_id=event_id)
        uow.insert(KIND, {f.name: getattr(d, f.name) for f in fields(d)})
        uow.record_transition(KIND, d.id, 1, None, d.state, "create", {"event": event})
        if not leased:
            self._emit_job(uow, d)
        return d

    def _emit_job(self, uow: UnitOfWork, d: WebhookDelivery) -> None:
        assert d.next_retry_at is not None
        uow.signal(self._config.streams.webhook_jobs, {
            "kind": "deliver_webhook", "delivery_id": d.id, "merchant_id": d.merchant_id,
            "endpoint_id": d.endpoint_id, "livemode": d.livemode, "attempt": d.attempts + 1, "due_at": d.next_retry_at.isoformat(),
            # For the dashboard's live feed, which names what a delivery is about.
            "event": d.event, "object_id": key_object_id(d.event_key)})

    # -- creating ------------------------------------------------------------------------

    def _on_CreateFromEvents(self, msg: CreateFromEvents) -> int:
        events = [p for p in msg.events
                  if isinstance(p, Mapping) and p.get("event") and uuid_text(p.get("merchant_id")) is not None]
        merchant_ids = sorted({str(p["merchant_id"]) for p in events})
        if not merchant_ids:
            return 0
        endpoints = self._rows.endpoints_of(merchant_ids)
        # What each endpoint subscribed to, as (endpoint, event name, body text, key, event);
        # keys (a canonical dump and a hash each) only for events some endpoint receives.
        wanted = [w for p in events for w in self._fan_out(p, endpoints.get(str(p["merchant_id"])))]
        if not wanted:
            return 0

        # A first attempt due at once is made by this process, straight after the commit, while
        # its endpoint has a free slot: no job through Redis, no claim.
        due_at_once = self._config.schedule[:1] == (0,)

        def decide(uow: UnitOfWork) -> list[tuple[WebhookDelivery, bool]]:
            existing = self._rows.existing_keys(sorted({str(e["id"]) for e, *_ in wanted}),
                                                sorted({key for _e, _n, _b, key, _p in wanted}))
            room: dict[str, int] = {}
            made = []
            for endpoint, name, body, key, p in wanted:
                lane = str(endpoint["id"])
                if (lane, key) in existing:
                    continue  # a duplicate copy of an event already delivered or on its way
                existing.add((lane, key))
                free = room.setdefault(lane, self._slots.room(lane))
                leased = due_at_once and free > 0
                if leased:
                    room[lane] = free - 1
                made.append((self._new_delivery(
                    uow, str(p["merchant_id"]), name, body, key, lane, _event_id(p), leased,
                    bool(p.get("livemode"))), leased))
            return made

        made = self._write(decide)
        by_id = {str(e["id"]): e for mine in endpoints.values() for e in mine}
        for d, leased in made:
            if leased:
                e = by_id[str(d.endpoint_id)]
                self._launch({**delivery_row(d), "webhook_url": e["url"],
                              "webhook_secret": e["secret"],
                              "previous_secret": e["previous_secret"],
                              "previous_expires_at": e["previous_expires_at"]}, None)
            elif due_at_once:
                # Due now but no room: the next slot this endpoint frees takes it (its job
                # would say the same, a Redis round trip later).
                self._slots.mark_backlog(d.lane)
        return len(made)

    def _fan_out(self, p: Mapping[str, Any], endpoints: list[dict[str, Any]] | None,
                 ) -> list[tuple[dict[str, Any], str, str, str, Mapping[str, Any]]]:
        """The deliveries one event makes: one per enabled endpoint of its mode subscribed to
        it, in the endpoint's format (a Razorpay-format endpoint may get two events, or none,
        for one of Paystate's)."""
        mine = [e for e in endpoints or () if e["livemode"] == bool(p.get("livemode"))]
        if not mine:
            return []
        event = str(p["event"])
        timestamp = p.get("timestamp")
        if not isinstance(timestamp, int):
            timestamp = int(self._clock.now().timestamp())
        key = ""
        native = ""
        razorpay: list[tuple[str, str]] | None = None
        out = []
        for e in mine:
            if e["format"] == "razorpay":
                if razorpay is None:
                    razorpay = self._razorpay_bodies(p, timestamp)
                bodies = razorpay
            else:
                if not native:
                    native = serialise_body(event, timestamp, p.get("data") or {}, _event_id(p))
                bodies = [(event, native)]
            for name, body in bodies:
                if subscribed(e["enabled_events"], name):
                    key = key or event_key(p)
                    out.append((e, name, body, key if name == event else f"{key}:{name}", p))
        return out

    def _razorpay_bodies(self, p: Mapping[str, Any], timestamp: int) -> list[tuple[str, str]]:
        """The event in Razorpay's words, from its object as it is now (Razorpay's entities
        carry fields Paystate's event data does not)."""
        render = self._config.razorpay_bodies
        if render is None:
            return []
        obj, related = self._rows.event_objects(p)
        if obj is None:
            return []
        return [(name, serialise(body)) for name, body in
                render(str(p["event"]), obj, related, str(p["merchant_id"]), timestamp)]

    def _on_ReconcileEvents(self, msg: ReconcileEvents) -> int:
        """Event rows past the high-water mark go through ``CreateFromEvents``, whose
        per-endpoint ``event_key`` makes a delivery at most once however many copies of an
        event arrive."""
        stream = self._config.streams.events
        if self._reconciled is None:
            self._reconciled = self._rows.event_mark_before(stream, msg.until - msg.lookback)
        rows, mark = self._rows.events_after(stream, self._reconciled, msg.until, msg.limit)
        if not rows:
            return 0
        made = self._on_CreateFromEvents(CreateFromEvents(tuple(r["payload"] for r in rows)))
        self._reconciled = mark
        return made

    def _on_CreateDelivery(self, msg: CreateDelivery) -> WebhookDelivery:
        endpoint = self._rows.endpoint_for(msg.merchant_id, msg.livemode, msg.endpoint_id)
        if msg.endpoint_id is not None and endpoint is None:
            raise NotFound("Webhook endpoint")
        at = self._clock.now()
        event_id = new_id("evt_")
        body = serialise_body(msg.event, int(at.timestamp()), msg.data, event_id)
        if endpoint is not None and endpoint["format"] == "razorpay" and (
                render := self._config.razorpay_bodies) is not None:
            rendered = render(msg.event, None, None, msg.merchant_id, int(at.timestamp()))
            if rendered:
                body = serialise(rendered[0][1])
        return self._write(lambda uow: self._new_delivery(
            uow, msg.merchant_id, msg.event, body, f"{msg.event}:{new_uuid()}",
            endpoint["id"] if endpoint else None, event_id, livemode=msg.livemode))

    def _on_Recover(self, msg: Recover) -> int:
        """Each failed delivery since ``since`` starts again, a batch per transaction."""
        recovered = 0
        while True:
            def decide(uow: UnitOfWork) -> int:
                batch = self._rows.failed_since(msg.endpoint_id, msg.since, RECOVER_BATCH)
                for d in batch:
                    if d.merchant_id != msg.merchant_id:
                        raise NotFound("Webhook endpoint")
                    self._fire(d, "retry", at=uow.at, schedule=self._config.schedule,
                               by="recover")
                    self._emit_job(uow, d)
                return len(batch)

            n = self._write(decide)
            recovered += n
            if n < RECOVER_BATCH:
                return recovered

    # -- manual retry --------------------------------------------------------------------

    def _on_ManualRetry(self, msg: ManualRetry) -> WebhookDelivery:
        def decide(uow: UnitOfWork) -> WebhookDelivery:
            d = self._rows.load(msg.delivery_id)
            if d is None or d.merchant_id != msg.merchant_id:
                raise NotFound("Webhook")
            if d.state == "pending":
                return d  # its first attempt is due already (or being made): nothing to reset
            self._fire(d, "retry", at=uow.at, schedule=self._config.schedule, by="merchant")
            self._emit_job(uow, d)
            return d

        return self._write(decide)

    # -- attempts ------------------------------------------------------------------------

    def _on_AttemptDue(self, msg: AttemptDue) -> None:
        if self._slots.room(msg.lane) <= 0:
            # The slot that frees next takes this endpoint's next due delivery (``_refill``).
            # The job stays unacknowledged; a re-delivered copy finds it done and is acked.
            self._slots.mark_backlog(msg.lane)
            return
        rows = self._rows.claim([msg.delivery_id], self._clock.now(), durable=False)
        if rows:
            self._launch(rows[0], msg.job)
        elif msg.job is not None:
            # Not due (any more): attempted by another process, reset, or finished.
            self._ack(msg.job, None)

    def _on_InFlightCount(self, msg: InFlightCount) -> int:
        return len(self._slots)

    def _on_SweepDue(self, msg: SweepDue) -> list[Future]:
        for delivery_id in self._slots.forget_started_before(msg.now - 2 * self._config.lease):
            log.warning("no result for webhook attempt %s; forgetting it", delivery_id)
        candidates = self._rows.overdue(msg.cutoff, msg.now, self._slots.full(), msg.limit)
        room: dict[str, int] = {}
        ids = []
        for row in candidates:
            lane = str(row["endpoint_id"] or row["merchant_id"])
            free = room.setdefault(lane, self._slots.room(lane))
            if free > 0:
                room[lane] = free - 1
                ids.append(str(row["id"]))
            else:
                self._slots.mark_backlog(lane)
        return [self._launch(row, None) for row in self._rows.claim(ids, msg.now)]

    def _refill(self, lanes: set[str]) -> None:
        """For each endpoint whose slots just freed and that waited for room: claim its next
        due deliveries (one indexed statement per endpoint) and launch them at once. Runs
        before the finished attempts are written, so a slot is back at work one commit sooner;
        the attempts just finished are still leased to this process, so no claim can take
        them."""
        now = self._clock.now()
        for lane in sorted(lanes):
            room = self._slots.room(lane)
            if room <= 0 or not self._slots.has_backlog(lane):
                continue
            try:
                rows = self._rows.claim_next(lane, now, room)
            except psycopg.Error as exc:
                log.warning("could not refill %s's webhook slots (the sweeper will): %s",
                            lane, exc)
                self._db.reset()
                return
            if len(rows) < room:
                self._slots.clear_backlog(lane)
            for row in rows:
                self._launch(row, None)

    def _launch(self, row: dict[str, Any], job: JobRef | None) -> Future:
        """Start the attempt a claim just won; the returned Future completes when it is
        recorded. The merchant's URL and secret are read fresh by the claim itself."""
        d = delivery_from_row(row)
        assert d.lease_token is not None
        started = self._clock.now()
        done: Future = Future()
        self._slots.take(d.id, InFlight(d.lane, d.lease_token, d.attempts + 1, started,
                                        job, done, d.endpoint_id))
        token = d.lease_token

        def report(result: AttemptResult) -> None:
            self._queue_result(AttemptDone(d.id, token, result))

        url, secret = row.get("webhook_url"), row.get("webhook_secret") or ""
        if not url:
            report(AttemptResult(None, 0, None, "the webhook endpoint was deleted"
                                 if d.endpoint_id else "webhook_url is not configured"))
            return done
        body = d.payload.encode()
        current, *rolled = signing_secrets(secret, row.get("previous_secret"),
                                           row.get("previous_expires_at"), started)
        headers = signed_headers(current, d.id, int(started.timestamp()), body, rolled)
        self._sender.submit(OutgoingWebhook(d.merchant_id, url, body, headers), report)
        return done

    def _queue_result(self, result: AttemptDone) -> None:
        """Any thread (the sender's, usually): queue a finished attempt and wake the actor
        unless a wake-up is already on its way."""
        with self._results_lock:
            self._results.append(result)
            if self._wake_sent:
                return
            self._wake_sent = True
        try:
            self.actor_ref.tell(Envelope(RecordDone(), Future()))
        except pykka.ActorDeadError:
            pass  # stopping: the lease was released or expires, and the attempt is redone

    def _take_results(self) -> list[AttemptDone]:
        with self._results_lock:
            batch = [self._results.popleft()
                     for _ in range(min(RECORD_BATCH, len(self._results)))]
            more = bool(self._results)
            self._wake_sent = more
        if more:
            self.actor_ref.tell(Envelope(RecordDone(), Future()))
        return batch

    def _on_RecordDone(self, msg: RecordDone) -> None:
        finished = [(done, flight) for done in self._take_results()
                    if (flight := self._slots.finish(done.delivery_id, done.token)) is not None]
        if not finished:
            return
        self._refill({flight.lane for _done, flight in finished})
        try:
            recorded = self._write(lambda uow: self._record_all(uow, finished))
        except BaseException as exc:
            for _done, flight in finished:
                flight.done.set_exception(exc)
            raise
        jobs = [(flight.job, delivered(done.result.status_code)) for done, flight in finished]
        self._ack_all(jobs)
        for (done, flight), delivery in zip(finished, recorded, strict=True):
            status = done.result.status_code
            outcome = "success" if delivered(status) else (
                "error" if status is None else "http_error")
            self._metrics.webhook_attempts.labels(outcome).inc()
            self._metrics.webhook_latency.observe(done.result.duration_ms / 1000)
            flight.done.set_result(delivery)

    def _record_all(self, uow: UnitOfWork,
                    finished: list[tuple[AttemptDone, InFlight]]) -> list[WebhookDelivery]:
        loaded = self._rows.load_many([done.delivery_id for done, _flight in finished])
        out = []
        for done, flight in finished:
            d = loaded.get(done.delivery_id)
            if d is None:
                raise NotFound("Webhook")
            self._record(uow, d, flight, done.result)
            out.append(d)
        self._record_health(uow, finished)
        return out

    def _record_health(self, uow: UnitOfWork, finished: list[tuple[AttemptDone, InFlight]],
                       ) -> None:
        """An endpoint with a 2xx in this batch is healthy; one with only failures is failing
        (and disabled once it has been for ``disable_after``)."""
        ok = {f.endpoint_id for done, f in finished
              if f.endpoint_id and delivered(done.result.status_code)}
        failing = {f.endpoint_id for _d, f in finished if f.endpoint_id} - ok
        if not ok and not failing:
            return
        after = self._config.disable_after
        for endpoint_id in self._rows.endpoint_health(sorted(ok), sorted(failing), uow.at,
                                                      after, disabled_reason(after)):
            log.warning("webhook endpoint %s disabled: %s", endpoint_id, disabled_reason(after))

    def _record(self, uow: UnitOfWork, d: WebhookDelivery, flight: InFlight,
                result: AttemptResult) -> None:
        # The attempt is written once, as the transition it causes: its facts are that
        # transition's data (a None is left out), which the attempt log reads back
        # (``deliveries.ATTEMPTS``) - no row of its own to insert and index.
        facts: dict[str, Any] = {
            "attempt": flight.attempt, "attempted_at": flight.started_at,
            "response_code": result.status_code, "duration_ms": result.duration_ms,
            "response_body": result.response_body, "error": result.error,
            "worker": self._config.owner}
        if d.lease_token != flight.token or d.state not in ACTIVE:
            # The delivery moved on while the POST was out (a manual retry, or this process
            # stalled past its lease): the attempt is recorded, and decides nothing.
            self._fire(d, "late_attempt", at=uow.at, **facts)
            return
        trigger = trigger_after_attempt(d, result.status_code, self._config.schedule)
        self._fire(d, trigger, at=uow.at, schedule=self._config.schedule, **facts)
        if d.state == "retrying":
            self._emit_job(uow, d)

    def _ack(self, job: JobRef | None, ok: bool | None) -> None:
        self._ack_all([(job, ok)])

    def _ack_all(self, jobs: Sequence[tuple[JobRef | None, bool | None]]) -> None:
        """Acknowledge the jobs and count the attempts (``ok`` None: no attempt was made), in
        one round trip."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            counts = {"completed": 0, "failed": 0}
            for job, ok in jobs:
                if job is not None:
                    pipe.xack(job.stream, "webhooks", job.entry_id)
                if ok is not None:
                    counts["completed" if ok else "failed"] += 1
            for name, n in counts.items():
                if n:
                    pipe.hincrby(self._config.streams.job_stats, name, n)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not acknowledge webhook jobs: %s", exc)


def _event_id(payload: Mapping[str, Any]) -> str | None:
    """The event's ``evt_`` id (events from before ids have none)."""
    value = payload.get("id")
    return value if isinstance(value, str) and value.startswith("evt_") else None
