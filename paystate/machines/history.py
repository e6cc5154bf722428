"""An object as it stood at an instant, rebuilt from its persisted transitions. Pure.

Every change of a payment, refund or webhook delivery is a row of ``transitions``: the trigger,
the arguments it was given (``data``, written by ``trigger_data``) and when (``at``, the time
of the decision, which is also the ``at`` a trigger is given). The rebuild starts from the
values every object of the machine is created with (``creation_values``) and replays each
transition up to the instant through the machine's own effect functions, so every field a
transition changes comes back exactly as it was written then: a payment's ``captured``,
``error_code``/``error_description``, ``amount_refunded``/``amount_refund_pending``; a
refund's ``processed_at``; a delivery's ``attempts``, ``next_retry_at``, ``last_attempt_at``,
``response_code``. ``version`` is the last transition's ``seq`` and ``updated_at`` its ``at``.
Fields no transition changes (amount, method, payload, ...) are the object's own.

Replaying rather than reading the latest row's values is what makes this exact: ``data`` keeps
what a trigger was given, not what its effect computed (a payment's ``amount_refunded`` is a
running sum, a delivery's ``next_retry_at`` comes from its schedule and the failure's time).
``tests/unit/test_history_properties.py`` checks, over random histories of each machine, that
the rebuild as of each transition's time is the object recorded after that transition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from .spec import MachineSpec
from .webhook import next_attempt_at


@dataclass(frozen=True)
class Step:
    """One persisted transition: the row of ``transitions`` the rebuild reads."""

    seq: int
    from_state: str | None
    to_state: str
    trigger: str
    data: Mapping[str, Any]
    at: datetime

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Step:
        return cls(seq=row["seq"], from_state=row["from_state"], to_state=row["to_state"],
                   trigger=row["trigger"], data=row["data"] or {}, at=row["at"])


class HistoryMismatch(Exception):
    """The transitions do not follow the machine (a trigger that does not lead from the state
    reached so far to the recorded ``to_state``): the history was written by other rules, or
    edited. Never a client's fault."""


# -- what a transition row keeps of its trigger's arguments ----------------------------------

#: Arguments that are not JSON scalars, and how they are read back from ``data``.
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "attempted_at": datetime.fromisoformat,  # a delivery attempt's start
    "schedule": tuple,                       # a delivery's retry schedule (seconds)
}
_SCALARS = (str, int, bool)


def trigger_data(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``data`` of a transition row: the trigger's arguments but ``at`` (the row's own
    column). JSON scalars as given, a datetime as ISO 8601 with microseconds and offset, a
    sequence of scalars as a list; ``None`` and anything else are left out (an effect reads a
    missing argument as its default, which is what ``None`` meant)."""
    data: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name == "at" or value is None:
            continue
        if isinstance(value, _SCALARS):
            data[name] = value
        elif isinstance(value, datetime):
            data[name] = value.isoformat()
        elif isinstance(value, (list, tuple)) and all(isinstance(v, _SCALARS) for v in value):
            data[name] = list(value)
    return data


def trigger_args(step: Step, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The arguments the trigger of ``step`` was fired with, read back from its ``data``.

    ``defaults`` fill arguments that rows written before ``trigger_data`` kept them lack (a
    delivery's ``schedule``: the gateway's configured one); a missing ``attempted_at`` is
    taken as the transition's own time (the attempt's end rather than its start)."""
    args: dict[str, Any] = {name: _DECODERS[name](value) if name in _DECODERS else value
                            for name, value in step.data.items()}
    for name, value in (defaults or {}).items():
        args.setdefault(name, value)
    args.setdefault("attempted_at", step.at)
    args["at"] = step.at
    return args


# -- the rebuild ------------------------------------------------------------------------------

def creation_values(machine: str, created_at: datetime,
                    schedule: Sequence[int] | None = None) -> dict[str, Any]:
    """The fields transitions change, as every object of ``machine`` is created (the shards'
    and the dispatcher's constructors). A delivery's first attempt is due ``schedule[0]``
    after its creation (at once: every schedule starts with 0)."""
    if machine == "payment":
        return {"state": "pending", "captured": False, "error_code": None,
                "error_description": None, "amount_refunded": 0, "amount_refund_pending": 0}
    if machine == "refund":
        return {"state": "pending", "processed_at": None}
    if machine == "webhook_delivery":
        due = next_attempt_at(1, schedule, created_at) if schedule else created_at
        return {"state": "pending", "attempts": 0, "next_retry_at": due,
                "last_attempt_at": None, "response_code": None, "lease_owner": None,
                "lease_token": None, "lease_until": None}
    raise ValueError(f"no creation values for machine {machine!r}")


def state_as_of(spec: MachineSpec, fields: Mapping[str, Any], steps: Sequence[Step],
                at: datetime, defaults: Mapping[str, Any] | None = None
                ) -> dict[str, Any] | None:
    """``fields`` (an object of ``spec``'s machine, ``state`` and ``created_at`` among them)
    as it stood at ``at``: the fields transitions change replayed from their creation values
    through every step at or before ``at`` (``steps`` oldest first, from ``create``); the
    others as given. None if the object did not exist yet at ``at``.

    ``defaults``: trigger arguments older rows lack (see ``trigger_args``). Raises
    ``HistoryMismatch`` if a step does not follow the machine."""
    if not steps:
        return None if fields["created_at"] > at else dict(fields)
    first = steps[0]
    if first.trigger != "create" or first.to_state != spec.initial:
        raise HistoryMismatch(f"history of {spec.name} starts with {first.trigger}")
    if first.at > at:
        return None
    schedule = next((s.data["schedule"] for s in steps if "schedule" in s.data),
                    (defaults or {}).get("schedule"))
    now = {**fields, **creation_values(spec.name, fields["created_at"], schedule),
           "version": first.seq, "updated_at": first.at}
    for step in steps[1:]:
        if step.at > at:
            break
        taken = spec.transition(step.trigger, now["state"])
        if taken is None or taken.dest != step.to_state or step.from_state != now["state"]:
            raise HistoryMismatch(f"{spec.name} {step.trigger} from {now['state']} to "
                                  f"{step.to_state} (seq {step.seq})")
        changes = taken.effect(SimpleNamespace(**now), trigger_args(step, defaults))
        now.update(changes, state=taken.dest, version=step.seq, updated_at=step.at)
    return now


def instants(steps: Sequence[Step]) -> list[datetime]:
    """The times an object changed, oldest first, each once (two transitions decided in one
    batch share a time): the instants a timeline can step through."""
    seen: list[datetime] = []
    for step in steps:
        if not seen or seen[-1] != step.at:
            seen.append(step.at)
    return seen
