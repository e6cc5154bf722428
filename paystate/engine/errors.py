"""Engine errors: failures of storage or coordination, as opposed to domain refusals."""

from __future__ import annotations


class EngineError(Exception):
    """Base for engine failures."""


class NotFound(EngineError):
    """No such object for this merchant (or it belongs to another one: never said which)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class Conflict(EngineError):
    """A compare-and-set lost: another process moved the object first. Reload and decide again."""


class Unavailable(EngineError):
    """A dependency (PostgreSQL, Redis, an actor) cannot be reached right now."""
