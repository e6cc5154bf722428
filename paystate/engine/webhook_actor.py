"""The dispatcher actor: the one place in a process that decides about webhook deliveries.

It creates deliveries, claims due ones, hands their POSTs to the sender and records each
attempt, each decision through the delivery machine and one ``UnitOfWork`` transaction (the
row with a compare-and-set on ``version``, a ``transitions`` row, a ``webhook_attempts`` row,
and the next attempt's job in the outbox). It never waits on HTTP: the sender calls back with
an ``AttemptDone`` message when a POST is over.

Exactly one process makes each due attempt: a claim is one UPDATE that sets a lease
(``lease_owner``, a fresh ``lease_token``, ``lease_until``) only on rows that are due and not
leased, skipping rows another transaction holds. Recording an attempt clears the lease in the
same transaction as the transition. A process killed mid-attempt leaves its lease to expire,
after which any process makes that attempt again: the only attempt that can be sent twice.

Runs on the actor's own thread; messages are frozen dataclasses wrapped in ``Envelope`` with a
``concurrent.futures.Future`` for the reply. Every message is handled inside a try block, so
one bad message never stops the actor.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg
import pykka
import redis

from ..machines.errors import InvalidTransition
from ..machines.spec import build_machine
from ..machines.webhook import (
    ACTIVE,
    WEBHOOK_DELIVERY,
    WebhookDelivery,
    delivered,
    next_attempt_at,
    trigger_after_attempt,
)
from ..machines.webhook_signing import serialise_body, signed_headers
from .clock import Clock
from .db import ActorConnection
from .decisions import fire, record
from .errors import Conflict, NotFound
from .metrics import Metrics
from .outbox import publish
from .streams import StreamNames
from .unit_of_work import UnitOfWork
from .webhook_records import delivery_from_row
from .webhook_sender import AttemptResult, OutgoingWebhook, WebhookSender

log = logging.getLogger(__name__)
KIND = "webhook_delivery"
ATTEMPT_KIND = "webhook_attempt"
MAX_CONFLICT_RETRIES = 8
T = TypeVar("T")


@dataclass(frozen=True)
class DispatcherConfig:
    database_url: str
    streams: StreamNames
    schedule: tuple[int, ...]
    #: This process's name: lease owner, consumer name, ``webhook_attempts.worker``.
    owner: str
    timeout_s: float = 5.0
    #: Longer than a POST can take (timeout + recording), so a live process never loses one.
    lease: timedelta = timedelta(seconds=30)
    #: POSTs one merchant may have in flight from this process.
    per_merchant: int = 8


# -- messages ------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobRef:
    """A webhook job's stream entry, acknowledged once its attempt is recorded."""
    stream: str
    entry_id: str


@dataclass(frozen=True)
class CreateFromEvents:
    """Domain events read from the events stream: ``(event_key, event payload)`` pairs."""
    events: tuple[tuple[str, Mapping[str, Any]], ...]


@dataclass(frozen=True)
class ReconcileEvents:
    """Create the deliveries of events the outbox holds but the events stream may have lost
    (Redis can drop its latest writes): every event row committed between the last reconcile
    and ``until``; the first reconcile of a process looks back ``lookback``."""
    until: datetime
    lookback: timedelta
    limit: int = 1000


@dataclass(frozen=True)
class CreateDelivery:
    """One delivery of an event made up here (``webhook.test``, simulations)."""
    merchant_id: str
    event: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class AttemptDue:
    """A job says this delivery is due: claim it and send, if it still is."""
    delivery_id: str
    merchant_id: str
    job: JobRef | None = None


@dataclass(frozen=True)
class SweepDue:
    """Claim and send deliveries due at ``cutoff`` or earlier; reply with one Future per
    attempt started, completed when the attempt is recorded."""
    now: datetime
    cutoff: datetime
    limit: int = 200


@dataclass(frozen=True)
class AttemptDone:
    delivery_id: str
    token: str
    result: AttemptResult


@dataclass(frozen=True)
class ManualRetry:
    delivery_id: str
    merchant_id: str


@dataclass(frozen=True)
class InFlightCount:
    """How many attempts this process has out (a stopping dispatcher waits for zero)."""


@dataclass(frozen=True)
class Envelope:
    message: Any
    reply: Future


@dataclass
class InFlight:
    merchant_id: str
    token: str
    attempt: int
    started_at: datetime
    job: JobRef | None
    done: Future


def event_key(payload: Mapping[str, Any]) -> str:
    """A domain event's identity, the same for every copy of it (the relay republishes rows
    from JSONB, which reorders keys, so the digest is over canonical JSON)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
    return f"{payload.get('event')}:{payload.get('entity_id')}:{digest}"


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class DispatcherActor(pykka.ThreadingActor):
    def __init__(self, config: DispatcherConfig, redis_client: redis.Redis, clock: Clock,
                 sender: WebhookSender, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics
        self._config = config
        self._redis = redis_client
        self._clock = clock
        self._sender = sender
        self._db = ActorConnection(config.database_url)
        # The outbox seq up to which events were checked for lost deliveries.
        self._reconciled_seq: int | None = None
        self._uow: UnitOfWork | None = None
        self._machine = build_machine(WEBHOOK_DELIVERY, self._before_state_change)
        self._inflight: dict[str, InFlight] = {}
        self._per_merchant: dict[str, int] = {}

    # -- actor plumbing ------------------------------------------------------------------

    def on_start(self) -> None:
        self._db.get()

    def on_stop(self) -> None:
        """Release this process's leases: a graceful stop lets the next process attempt at
        once instead of waiting for the leases to expire."""
        tokens = [f.token for f in self._inflight.values()]
        try:
            if tokens:
                self.conn.execute("UPDATE webhook_logs SET lease_until = NULL WHERE"
                                  " lease_token = ANY(%s::uuid[])", (tokens,))
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
                self._reset_connection()
            if not future.done():
                future.set_exception(exc)
            return None
        if not future.done():
            future.set_result(result)
        return None

    def _reset_connection(self) -> None:
        self._db.reset()

    @property
    def conn(self) -> psycopg.Connection[Any]:
        return self._db.get()

    # -- decide, write, apply ------------------------------------------------------------

    def _write(self, decide: Callable[[UnitOfWork], T]) -> T:
        """Run ``decide`` (which loads what it needs and fires triggers) and commit its unit of
        work; on a lost compare-and-set or a duplicate insert, decide again from fresh rows."""
        for _attempt in range(MAX_CONFLICT_RETRIES):
            uow = UnitOfWork(at=self._clock.now())
            self._uow = uow
            try:
                result = decide(uow)
                if uow.inserts or uow.updates:
                    uow.commit(self.conn)
            except (Conflict, psycopg.errors.UniqueViolation):
                continue
            finally:
                self._uow = None
            if uow.outbox:
                publish(self._redis, self.conn, uow.outbox, self._clock)
            return result
        raise Conflict(f"gave up after {MAX_CONFLICT_RETRIES} conflicting attempts")

    def _fire(self, delivery: WebhookDelivery, trigger: str, **kwargs: Any) -> None:
        fire(self._machine, WEBHOOK_DELIVERY, delivery, trigger, **kwargs)

    def _before_state_change(self, event: Any) -> None:
        assert self._uow is not None, "triggers fire only inside _write"
        record(self._uow, KIND, WEBHOOK_DELIVERY, event)

    def _load(self, delivery_id: str) -> WebhookDelivery | None:
        if not _is_uuid(delivery_id):
            return None
        row = self.conn.execute("SELECT * FROM webhook_logs WHERE id = %s",
                                (delivery_id,)).fetchone()
        return delivery_from_row(row) if row else None

    def _new_delivery(self, uow: UnitOfWork, merchant_id: str, event: str, timestamp: int,
                      data: Mapping[str, Any], key: str) -> WebhookDelivery:
        d = WebhookDelivery(
            id=str(uuid.uuid4()), merchant_id=merchant_id, event=event, event_key=key,
            payload=serialise_body(event, timestamp, data), state=WEBHOOK_DELIVERY.initial,
            attempts=0, next_retry_at=next_attempt_at(1, self._config.schedule, uow.at),
            last_attempt_at=None, response_code=None, lease_owner=None, lease_token=None,
            lease_until=None, version=1, created_at=uow.at, updated_at=uow.at)
        uow.insert(KIND, {f.name: getattr(d, f.name) for f in fields(d)})
        uow.record_transition(KIND, d.id, 1, None, d.state, "create", {"event": event})
        self._emit_job(uow, d)
        return d

    def _emit_job(self, uow: UnitOfWork, d: WebhookDelivery) -> None:
        assert d.next_retry_at is not None
        uow.emit(self._config.streams.webhook_jobs, {
            "kind": "deliver_webhook", "delivery_id": d.id, "merchant_id": d.merchant_id,
            "attempt": d.attempts + 1, "due_at": d.next_retry_at.isoformat()})

    # -- creating ------------------------------------------------------------------------

    def _on_CreateFromEvents(self, msg: CreateFromEvents) -> int:
        events = [(key, p) for key, p in msg.events
                  if isinstance(p, Mapping) and p.get("event") and _is_uuid(p.get("merchant_id"))]
        merchant_ids = sorted({str(p["merchant_id"]) for _, p in events})
        if not merchant_ids:
            return 0
        hooked = {str(r["id"]) for r in self.conn.execute(
            "SELECT id FROM merchants WHERE id = ANY(%s::uuid[]) AND webhook_url IS NOT NULL",
            (merchant_ids,))}
        wanted = [(key, p) for key, p in events if str(p["merchant_id"]) in hooked]
        if not wanted:
            return 0

        def decide(uow: UnitOfWork) -> int:
            existing = {(str(r["merchant_id"]), r["event_key"]) for r in self.conn.execute(
                "SELECT merchant_id, event_key FROM webhook_logs"
                " WHERE merchant_id = ANY(%s::uuid[]) AND event_key = ANY(%s)",
                (sorted(hooked), [key for key, _ in wanted]))}
            made = 0
            for key, p in wanted:
                merchant_id = str(p["merchant_id"])
                if (merchant_id, key) in existing:
                    continue  # a duplicate copy of an event already delivered or on its way
                existing.add((merchant_id, key))
                timestamp = p.get("timestamp")
                if not isinstance(timestamp, int):
                    timestamp = int(uow.at.timestamp())
                self._new_delivery(uow, merchant_id, str(p["event"]), timestamp,
                                   p.get("data") or {}, key)
                made += 1
            return made

        return self._write(decide)

    def _on_ReconcileEvents(self, msg: ReconcileEvents) -> int:
        """Event rows past the watermark go through ``CreateFromEvents``, whose per-merchant
        ``event_key`` makes a delivery at most once however many copies of an event arrive."""
        if self._reconciled_seq is None:
            row = self.conn.execute(
                "SELECT coalesce(max(seq), 0) AS seq FROM outbox WHERE stream = %s"
                " AND created_at < %s", (self._config.streams.events, msg.until - msg.lookback),
            ).fetchone()
            self._reconciled_seq = int(row["seq"]) if row else 0
        rows = self.conn.execute(
            "SELECT seq, payload FROM outbox WHERE stream = %s AND seq > %s AND created_at <= %s"
            " ORDER BY seq LIMIT %s",
            (self._config.streams.events, self._reconciled_seq, msg.until, msg.limit)).fetchall()
        if not rows:
            return 0
        made = self._on_CreateFromEvents(CreateFromEvents(
            tuple((event_key(r["payload"]), r["payload"]) for r in rows)))
        self._reconciled_seq = int(rows[-1]["seq"])
        return made

    def _on_CreateDelivery(self, msg: CreateDelivery) -> WebhookDelivery:
        return self._write(lambda uow: self._new_delivery(
            uow, msg.merchant_id, msg.event, int(uow.at.timestamp()), msg.data,
            f"{msg.event}:{uuid.uuid4()}"))

    # -- manual retry --------------------------------------------------------------------

    def _on_ManualRetry(self, msg: ManualRetry) -> WebhookDelivery:
        def decide(uow: UnitOfWork) -> WebhookDelivery:
            d = self._load(msg.delivery_id)
            if d is None or d.merchant_id != msg.merchant_id:
                raise NotFound("Webhook")
            if d.state == "pending":
                return d  # its first attempt is due already (or being made): nothing to reset
            self._fire(d, "retry", at=uow.at, schedule=self._config.schedule, by="merchant")
            self._emit_job(uow, d)
            return d

        return self._write(decide)

    # -- attempts ------------------------------------------------------------------------

    def _saturated(self, merchant_id: str) -> bool:
        return self._per_merchant.get(merchant_id, 0) >= self._config.per_merchant

    def _on_AttemptDue(self, msg: AttemptDue) -> None:
        if self._saturated(msg.merchant_id):
            # Not now, and not kept in memory either: a merchant with a slow endpoint may have
            # thousands due. The job stays unacknowledged; the sweeper claims the delivery once
            # the merchant has a free slot (a re-delivered job then finds it done and is acked).
            return
        rows = self._claim([msg.delivery_id], self._clock.now())
        if rows:
            self._launch(rows[0], msg.job)
        elif msg.job is not None:
            # Not due (any more): attempted by another process, reset, or finished.
            self._ack(msg.job, None)

    def _on_InFlightCount(self, msg: InFlightCount) -> int:
        return len(self._inflight)

    def _on_SweepDue(self, msg: SweepDue) -> list[Future]:
        self._forget_lost(msg.now)
        saturated = [m for m in self._per_merchant if self._saturated(m)]
        candidates = self.conn.execute(
            "SELECT id, merchant_id FROM webhook_logs WHERE status IN ('pending', 'retrying')"
            " AND next_retry_at <= %s AND (lease_until IS NULL OR lease_until <= %s)"
            " AND merchant_id <> ALL(%s::uuid[]) ORDER BY next_retry_at LIMIT %s",
            (msg.cutoff, msg.now, saturated, msg.limit)).fetchall()
        room: dict[str, int] = {}
        ids = []
        for row in candidates:
            merchant_id = str(row["merchant_id"])
            free = room.setdefault(merchant_id, self._config.per_merchant
                                   - self._per_merchant.get(merchant_id, 0))
            if free > 0:
                room[merchant_id] = free - 1
                ids.append(str(row["id"]))
        return [self._launch(row, None) for row in self._claim(ids, msg.now)]

    def _forget_lost(self, now: datetime) -> None:
        """Drop in-flight entries whose result never came (the sender reports every POST, so
        this is insurance): their leases expired long ago, and a merchant must not stay
        saturated for ever."""
        cutoff = now - 2 * self._config.lease
        for delivery_id, flight in list(self._inflight.items()):
            if flight.started_at < cutoff:
                log.warning("no result for webhook attempt %s; forgetting it", delivery_id)
                del self._inflight[delivery_id]
                self._release_slot(flight.merchant_id)

    def _release_slot(self, merchant_id: str) -> None:
        left = self._per_merchant.get(merchant_id, 1) - 1
        if left > 0:
            self._per_merchant[merchant_id] = left
        else:
            self._per_merchant.pop(merchant_id, None)

    def _claim(self, ids: list[str], now: datetime) -> list[dict[str, Any]]:
        """Lease the deliveries among ``ids`` that are due at ``now`` and not leased; rows
        another transaction is claiming are skipped, so each is claimed by one process."""
        if not ids:
            return []
        return self.conn.execute(
            "UPDATE webhook_logs w SET lease_owner = %(owner)s, lease_token = gen_random_uuid(),"
            " lease_until = %(until)s FROM merchants m"
            " WHERE m.id = w.merchant_id AND w.id IN ("
            "  SELECT id FROM webhook_logs WHERE id = ANY(%(ids)s::uuid[])"
            "  AND status IN ('pending', 'retrying') AND next_retry_at <= %(now)s"
            "  AND (lease_until IS NULL OR lease_until <= %(now)s)"
            "  FOR UPDATE SKIP LOCKED)"
            " RETURNING w.*, m.webhook_url, m.webhook_secret",
            {"owner": self._config.owner, "until": now + self._config.lease, "ids": ids,
             "now": now}).fetchall()

    def _launch(self, row: dict[str, Any], job: JobRef | None) -> Future:
        """Start the attempt a claim just won; the returned Future completes when it is
        recorded. The merchant's URL and secret are read fresh by the claim itself."""
        d = delivery_from_row(row)
        assert d.lease_token is not None
        started = self._clock.now()
        done: Future = Future()
        self._inflight[d.id] = InFlight(d.merchant_id, d.lease_token, d.attempts + 1, started,
                                        job, done)
        self._per_merchant[d.merchant_id] = self._per_merchant.get(d.merchant_id, 0) + 1
        token = d.lease_token
        actor = self.actor_ref

        def report(result: AttemptResult) -> None:
            try:
                actor.tell(Envelope(AttemptDone(d.id, token, result), Future()))
            except pykka.ActorDeadError:
                pass  # stopping: the lease was released or expires, and the attempt is redone

        url, secret = row.get("webhook_url"), row.get("webhook_secret") or ""
        if not url:
            report(AttemptResult(None, 0, None, "webhook_url is not configured"))
            return done
        body = d.payload.encode()
        headers = signed_headers(secret, d.id, int(started.timestamp()), body)
        self._sender.submit(OutgoingWebhook(d.merchant_id, url, body, headers), report)
        return done

    def _on_AttemptDone(self, msg: AttemptDone) -> None:
        flight = self._inflight.get(msg.delivery_id)
        if flight is None or flight.token != msg.token:
            return
        del self._inflight[msg.delivery_id]
        self._release_slot(flight.merchant_id)
        try:
            delivery = self._write(lambda uow: self._record(uow, msg.delivery_id, flight,
                                                           msg.result))
        except BaseException as exc:
            flight.done.set_exception(exc)
            raise
        ok = delivered(msg.result.status_code)
        self._ack(flight.job, ok)
        outcome = "success" if ok else ("error" if msg.result.status_code is None else "http_error")
        self._metrics.webhook_attempts.labels(outcome).inc()
        self._metrics.webhook_latency.observe(msg.result.duration_ms / 1000)
        flight.done.set_result(delivery)

    def _record(self, uow: UnitOfWork, delivery_id: str, flight: InFlight,
                result: AttemptResult) -> WebhookDelivery:
        d = self._load(delivery_id)
        if d is None:
            raise NotFound("Webhook")
        uow.insert(ATTEMPT_KIND, {
            "delivery_id": d.id, "attempt": flight.attempt, "at": flight.started_at,
            "response_code": result.status_code, "duration_ms": result.duration_ms,
            "response_body": result.response_body, "error": result.error,
            "worker": self._config.owner})
        if d.lease_token != flight.token or d.state not in ACTIVE:
            # The delivery moved on while the POST was out (a manual retry, or this process
            # stalled past its lease): the attempt is history, not a transition.
            return d
        trigger = trigger_after_attempt(d, result.status_code, self._config.schedule)
        kwargs: dict[str, Any] = {"attempt": flight.attempt}
        if result.status_code is not None:
            kwargs["response_code"] = result.status_code
        if result.error is not None:
            kwargs["error"] = result.error
        self._fire(d, trigger, at=uow.at, schedule=self._config.schedule,
                   attempted_at=flight.started_at, **kwargs)
        if d.state == "retrying":
            self._emit_job(uow, d)
        return d

    def _ack(self, job: JobRef | None, ok: bool | None) -> None:
        """Acknowledge the job; count the attempt (``ok`` None: no attempt was made)."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            if job is not None:
                pipe.xack(job.stream, "webhooks", job.entry_id)
            if ok is not None:
                pipe.hincrby(self._config.streams.job_stats, "completed" if ok else "failed", 1)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not acknowledge webhook job: %s", exc)
