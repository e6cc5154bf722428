"""Webhook delivery: pending -> retrying -> ... -> succeeded | failed; manual retry -> pending.

One delivery carries one event to one merchant. Every attempt ends in one transition:
``succeed`` (any 2xx), ``fail_attempt`` (a retry remains: the next attempt is due at
``next_attempt_at``), or ``give_up`` (that was the last attempt of the schedule); an attempt whose
delivery moved on while its POST was out is ``late_attempt``, which changes nothing else.
``retry`` is the merchant's manual retry: attempts start again from zero and the first one is due
at once. A delivery's attempt log is the data of its attempt transitions (``ATTEMPT_TRIGGERS``).

The retry schedule is data passed in with each trigger (``schedule``: seconds before attempt n,
counted from the previous failure), so the same machine serves production, the test intervals and
time-frozen simulations. Pure: no clock, no I/O; the caller passes ``at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .spec import MachineSpec, TransitionSpec

#: Production schedule: attempts at +0, +1 min, +5 min, +30 min, +2 h after the previous failure.
PRODUCTION_SCHEDULE: tuple[int, ...] = (0, 60, 300, 1800, 7200)
#: ``WEBHOOK_RETRY_INTERVALS_TEST=true``: +0, +5, +10, +15, +20 s.
TEST_SCHEDULE: tuple[int, ...] = (0, 5, 10, 15, 20)
#: Characters of a response body kept per attempt.
RESPONSE_BODY_LIMIT = 1000


@dataclass(eq=False)
class WebhookDelivery:
    """One event to one endpoint of a merchant. ``payload`` is the exact body, serialised once
    and sent as is.

    ``lease_*`` say which process is making an attempt right now and until when; the engine
    sets them when it claims a due delivery and every attempt transition clears them.
    """

    id: str
    merchant_id: str
    event: str
    event_key: str
    payload: str
    state: str
    attempts: int
    next_retry_at: datetime | None
    last_attempt_at: datetime | None
    response_code: int | None
    lease_owner: str | None
    lease_token: str | None
    lease_until: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    livemode: bool = False  # the event's: a delivery is seen only with keys of its mode
    #: The endpoint it goes to (None only for deliveries from before endpoints whose merchant
    #: had removed its URL), and the evt_ id of the event it carries.
    endpoint_id: str | None = None
    event_id: str | None = None

    @property
    def lane(self) -> str:
        """What bounds its attempts in flight: its endpoint (its merchant, without one)."""
        return self.endpoint_id or self.merchant_id

    @property
    def status(self) -> str:
        return self.state


def next_attempt_at(attempt: int, schedule: Sequence[int], now: datetime) -> datetime | None:
    """When attempt number ``attempt`` (1-based) is due, counted from ``now`` (the creation, the
    manual retry or the previous failure); ``None`` when the schedule has no such attempt."""
    if attempt < 1 or attempt > len(schedule):
        return None
    return now + timedelta(seconds=schedule[attempt - 1])


def delivered(status_code: int | None) -> bool:
    """Classify an attempt: any 2xx is a success; anything else (3xx included, since redirects
    are not followed) or no response at all is a failure."""
    return status_code is not None and 200 <= status_code < 300


def trigger_after_attempt(delivery: WebhookDelivery, status_code: int | None,
                          schedule: Sequence[int]) -> str:
    """The trigger that records the attempt just made: succeed, fail_attempt or give_up."""
    if delivered(status_code):
        return "succeed"
    if delivery.attempts + 2 > len(schedule):
        return "give_up"
    return "fail_attempt"


# -- guards and effects (kwargs: at, schedule, attempted_at, response_code, ...) --------------

def _retry_remains(d: Any, kw: Mapping[str, Any]) -> bool:
    return d.attempts + 2 <= len(kw["schedule"])


def _last_attempt(d: Any, kw: Mapping[str, Any]) -> bool:
    return d.attempts + 1 >= len(kw["schedule"])


def _attempt_effect(d: Any, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {"attempts": d.attempts + 1, "last_attempt_at": kw["attempted_at"],
            "response_code": kw.get("response_code"), "lease_owner": None, "lease_token": None,
            "lease_until": None}


def _final_effect(d: Any, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {**_attempt_effect(d, kw), "next_retry_at": None}


def _fail_effect(d: Any, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {**_attempt_effect(d, kw),
            "next_retry_at": next_attempt_at(d.attempts + 2, kw["schedule"], kw["at"])}


def _reset_effect(d: Any, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {"attempts": 0, "next_retry_at": next_attempt_at(1, kw["schedule"], kw["at"]),
            "lease_owner": None, "lease_token": None, "lease_until": None}


ACTIVE = ("pending", "retrying")
STATES = ("pending", "retrying", "succeeded", "failed")
#: The triggers an attempt fires, one transition per attempt: their ``data`` holds the attempt
#: (``attempt``, ``attempted_at``, ``response_code``, ``duration_ms``, ``response_body``,
#: ``error``, ``worker``), and is the only record of it. ``create`` and ``retry`` attempt nothing.
ATTEMPT_TRIGGERS = ("succeed", "fail_attempt", "give_up", "late_attempt")

WEBHOOK_DELIVERY = MachineSpec(
    name="webhook_delivery",
    states=STATES,
    initial="pending",
    final=("succeeded", "failed"),
    transitions=(
        TransitionSpec("succeed", ACTIVE, "succeeded", effect=_final_effect),
        TransitionSpec("fail_attempt", ACTIVE, "retrying", guard=_retry_remains,
                       refusal="No retry left", effect=_fail_effect),
        TransitionSpec("give_up", ACTIVE, "failed", guard=_last_attempt,
                       refusal="Retries remain", effect=_final_effect),
        TransitionSpec("retry", ("retrying", "succeeded", "failed"), "pending",
                       effect=_reset_effect),
        # The result of an attempt whose delivery moved on while the POST was out (a manual
        # retry, or its lease ran out and another process took it over): the attempt was made,
        # so it is recorded, but the delivery is no longer that attempt's to decide. The lease
        # is left to whoever holds it now.
        *(TransitionSpec("late_attempt", state, state) for state in STATES),
    ),
)


#: A delivery's state in the API contract's words (``status`` wherever merchants read it):
#: waiting for a first or next attempt is ``pending``, then ``success`` or ``failed``.
DELIVERY_STATUS: dict[str, str] = {"pending": "pending", "retrying": "pending",
                                   "succeeded": "success", "failed": "failed"}


def delivery_status(state: str) -> str:
    """The contract's word for a delivery machine state; ``KeyError`` for an unknown state
    (a new machine state must be given a word here, not leak through)."""
    return DELIVERY_STATUS[state]
