"""Firing a trigger on a shared ``transitions`` Machine and writing what it decided.

Both kinds of actor (shards, the webhook dispatcher) decide the same way: ``fire`` runs the
trigger (guards included) and turns a refusal into the domain's ``InvalidTransition``; their
``before_state_change`` hook calls ``record`` which, before the state moves, puts the row update
(compare-and-set on ``version``), the transition row and the effect's field changes into the
unit of work and applies them to the in-memory object.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine, MachineError

from ..machines.errors import InvalidTransition
from ..machines.history import trigger_data
from ..machines.spec import INVALID, MachineSpec, TransitionSpec
from .unit_of_work import UnitOfWork


def fire(machine: Machine, spec: MachineSpec, model: Any, trigger: str,
         **kwargs: Any) -> TransitionSpec:
    """Run ``trigger`` on ``model``; return the transition taken. A refusal says why in the
    spec's words: ``spec.wrong_state`` when the trigger is not allowed from the current state
    at all, the ``TransitionSpec``'s own refusal when its guard said no."""
    taken = spec.transition(trigger, model.state)
    try:
        ok = machine.events[trigger].trigger(model, **kwargs)
    except MachineError:
        raise spec.wrong_state_for(trigger, model, kwargs) from None
    if not ok or taken is None:
        raise taken.refusal_for(model, kwargs) if taken else InvalidTransition(INVALID)
    return taken


def record(uow: UnitOfWork, kind: str, spec: MachineSpec, event: Any) -> TransitionSpec:
    """The body of a ``before_state_change`` hook (``event`` is transitions' EventData)."""
    model = event.model
    taken = spec.transition(event.event.name, model.state)
    assert taken is not None, "transitions fired a trigger the spec does not know"
    kwargs = dict(event.kwargs)
    changes = taken.effect(model, kwargs)
    uow.update(kind, model.id, model.version, {"state": taken.dest, **changes})
    # What the trigger was given (not the clock: ``at`` is the row's own column), all that
    # its effect reads, so that ``machines/history.py`` can replay it exactly.
    uow.record_transition(kind, model.id, model.version + 1, model.state, taken.dest,
                          taken.trigger, trigger_data(kwargs))
    for name, value in changes.items():
        setattr(model, name, value)
    model.version += 1
    model.updated_at = uow.at
    return taken
