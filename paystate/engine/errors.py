"""Engine errors: failures of storage or coordination, as opposed to domain refusals."""

from __future__ import annotations

import psycopg
import redis


class EngineError(Exception):
    """Base for engine failures."""


class NotFound(EngineError):
    """No such object for this merchant (or it belongs to another one: never said which)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class AccountSuspended(EngineError):
    """The merchant is suspended: it takes no new work (its accepted work still completes)."""

    def __init__(self) -> None:
        super().__init__("This account is suspended")


class Conflict(EngineError):
    """A compare-and-set lost: another process moved the object first. Reload and decide again."""


class KeyTaken(Conflict):
    """An idempotency key written with its create (``commands.KeyedAnswer``) exists already:
    the key was used before, or is being used right now. Nothing was created; the key's own
    row says what to answer (``engine/idempotency.py``)."""


class KeyReusedError(EngineError):
    """An idempotency key was used before with a different request (method, path or body)."""


class KeyInUseError(EngineError):
    """Another request holds the idempotency key and did not finish within the wait."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(EngineError):
    """A dependency (PostgreSQL, Redis, an actor) cannot be reached right now."""


def dependency_down(exc: BaseException) -> bool:
    """True when ``exc`` says PostgreSQL or Redis cannot be reached right now (a stopped or
    restarting server, a connection cut, a pool with no connection to give): the request may
    be retried later, so it is answered 503, not 500. Recognised by exception class only:
    psycopg's ``OperationalError`` (SQLSTATE classes 08 and 57, and the pool's ``PoolTimeout``)
    and redis-py's connection and timeout errors."""
    return isinstance(exc, (Unavailable, psycopg.OperationalError, redis.ConnectionError,
                            redis.TimeoutError))
