"""Machine specifications as data, and the one helper that builds a ``transitions`` Machine.

A ``MachineSpec`` names the states, and per trigger the source, destination, guard (with the
refusal it answers), field effect and emitted events. ``build_machine`` makes a shared,
model-less ``Machine`` of a spec with the caller's ``before_state_change`` hook; the engine's
actors (each shard, the webhook dispatcher) build one per spec and fire triggers through
``engine/decisions.py``. Their hook calls ``decisions.record``, which computes the effect's
field changes, queues the row update (compare-and-set on ``version``) and the transition row in
the actor's unit of work, and applies the changes to the in-memory object. Nothing is written
then: the actor commits its whole batch afterwards, and a commit that fails drops the objects'
in-memory copies and decides again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from .errors import InvalidTransition

Guard = Callable[[Any, Mapping[str, Any]], bool]
Effect = Callable[[Any, Mapping[str, Any]], dict[str, Any]]
# A refusal's text, or the whole refusal where it says more (``param``, ``detail``, ``extra``).
Refusal = Callable[[Any, Mapping[str, Any]], str | InvalidTransition]
INVALID = "Invalid state transition"


def refusal_error(refusal: str | Refusal, model: Any,
                  kwargs: Mapping[str, Any]) -> InvalidTransition:
    """The ``InvalidTransition`` that ``refusal`` (a text or a function of the model and the
    trigger's arguments) answers for ``model``."""
    why = refusal(model, kwargs) if callable(refusal) else refusal
    return why if isinstance(why, InvalidTransition) else InvalidTransition(why)


def no_effect(model: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def always(model: Any, kwargs: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class TransitionSpec:
    trigger: str
    source: str | Sequence[str]
    dest: str
    guard: Guard = always
    # Why the guard refused, in the words the API answers with: a text, or a function of the
    # model and the trigger's arguments where one guard has several reasons.
    refusal: str | Refusal = INVALID
    effect: Effect = no_effect
    events: tuple[str, ...] = ()

    def refusal_for(self, model: Any, kwargs: Mapping[str, Any]) -> InvalidTransition:
        return refusal_error(self.refusal, model, kwargs)


@dataclass(frozen=True)
class MachineSpec:
    name: str
    states: tuple[str, ...]
    initial: str
    final: tuple[str, ...]
    transitions: tuple[TransitionSpec, ...] = field(default_factory=tuple)
    # The events emitted when an object is created in its initial state.
    created_events: tuple[str, ...] = ()
    # Per trigger, the refusal when it is fired from a state that does not allow it at all (a
    # guard's own refusal is its TransitionSpec's): a text, or a function as a guard's.
    wrong_state: Mapping[str, str | Refusal] = field(default_factory=dict, compare=False)

    def transition(self, trigger: str, source: str) -> TransitionSpec | None:
        for spec in self.transitions:
            sources = (spec.source,) if isinstance(spec.source, str) else tuple(spec.source)
            if spec.trigger == trigger and source in sources:
                return spec
        return None

    def wrong_state_for(self, trigger: str, model: Any,
                        kwargs: Mapping[str, Any]) -> InvalidTransition:
        """The refusal of ``trigger`` fired from a state that does not allow it."""
        return refusal_error(self.wrong_state.get(trigger, INVALID), model, kwargs)

    def triggers(self) -> list[str]:
        return sorted({t.trigger for t in self.transitions})


def build_machine(spec: MachineSpec, before_state_change: Callable[[Any], None]) -> Machine:
    """A shared, model-less Machine with the project's safe flags.

    ``auto_transitions=False`` closes the ``to_<state>()`` back door, invalid triggers raise
    ``MachineError``, and callbacks receive ``EventData``. Objects are passed per call
    (``machine.events[trigger].trigger(model, **kwargs)``), so the machine holds no model.
    """

    def guard_for(t: TransitionSpec) -> Callable[[Any], bool]:
        return lambda event: t.guard(event.model, event.kwargs)

    return Machine(
        model=None,
        states=list(spec.states),
        initial=spec.initial,
        transitions=[
            {
                "trigger": t.trigger,
                "source": t.source if isinstance(t.source, str) else list(t.source),
                "dest": t.dest,
                "conditions": [guard_for(t)],
            }
            for t in spec.transitions
        ],
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        before_state_change=[before_state_change],
    )
