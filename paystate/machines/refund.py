"""Refund: pending -> processed | failed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import MachineSpec, TransitionSpec


def _processed_effect(refund: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {"processed_at": kwargs["at"]}


REFUND = MachineSpec(
    name="refund",
    states=("pending", "processed", "failed"),
    initial="pending",
    final=("processed", "failed"),
    created_events=("refund.created",),
    transitions=(
        TransitionSpec("process", "pending", "processed", effect=_processed_effect,
                       events=("refund.processed",)),
        TransitionSpec("fail", "pending", "failed", events=("refund.failed",)),
    ),
)
