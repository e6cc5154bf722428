"""What the dispatcher actor is configured with and told: frozen dataclasses, each wrapped in an
``Envelope`` whose ``concurrent.futures.Future`` carries the reply."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..streams import StreamNames
from .sender import AttemptResult

RazorpayBodies = Callable[[str, Any, Any, str, int], list[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class DispatcherConfig:
    database_url: str
    streams: StreamNames
    schedule: tuple[int, ...]
    #: This process's name: lease owner, consumer name, an attempt's ``worker``.
    owner: str
    timeout_s: float = 5.0
    #: Longer than a POST can take (timeout + recording), so a live process never loses one.
    lease: timedelta = timedelta(seconds=30)
    #: POSTs one endpoint may have in flight from this process.
    per_lane: int = 8
    #: An endpoint whose every attempt failed for this long is disabled.
    disable_after: timedelta = timedelta(hours=72)
    #: The Razorpay-format events a Paystate event becomes, each (name, body), from the object
    #: and its related one (a payment's order, a refund's payment), the merchant id and the unix
    #: time; handed in by bootstrap from the Razorpay front, which owns those words.
    razorpay_bodies: RazorpayBodies | None = None


# -- messages ------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobRef:
    """A webhook job's stream entry, acknowledged once its attempt is recorded."""
    stream: str
    entry_id: str


@dataclass(frozen=True)
class CreateFromEvents:
    """Domain event payloads read from the events stream (or the outbox, to reconcile). Their
    ``event_key`` is computed by the actor, only for events some endpoint subscribes to."""
    events: tuple[Mapping[str, Any], ...]


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
    """One delivery of an event made up here (``webhook.test``, simulations) to one endpoint
    (None: the merchant's default endpoint of ``livemode``, or no endpoint at all)."""
    merchant_id: str
    event: str
    data: Mapping[str, Any]
    livemode: bool = False  # the mode of the caller that asked for it
    endpoint_id: str | None = None


@dataclass(frozen=True)
class AttemptDue:
    """A job says this delivery is due: claim it and send, if it still is. ``lane``: its
    endpoint (its merchant, for a delivery without one)."""
    delivery_id: str
    lane: str
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
class RecordDone:
    """Attempts finished: record the results the sender queued (``AttemptDone``), a batch per
    transaction."""


@dataclass(frozen=True)
class ManualRetry:
    delivery_id: str
    merchant_id: str


@dataclass(frozen=True)
class Recover:
    """Send again every ``failed`` delivery of the merchant's endpoint created since ``since``
    (attempts reset), as Svix's recover; replies with how many."""
    endpoint_id: str
    merchant_id: str
    since: datetime


@dataclass(frozen=True)
class InFlightCount:
    """How many attempts this process has out (a stopping dispatcher waits for zero)."""


@dataclass(frozen=True)
class Envelope:
    message: Any
    reply: Future


def event_key(payload: Mapping[str, Any]) -> str:
    """A domain event's identity, the same for every copy of it (the reconcile reads events
    back from JSONB, which reorders keys, so the digest is over canonical JSON)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
    return f"{payload.get('event')}:{payload.get('entity_id')}:{digest}"


def key_object_id(key: str) -> str | None:
    """The id of the object an ``event_key`` names (a payment's, a refund's), or None for a
    key of no object (a test event's)."""
    parts = key.split(":")
    return parts[1] if len(parts) >= 3 and parts[1] not in ("", "None") else None
