"""Domain errors: a request that the rules of the domain refuse."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal decided by the domain; ``code`` and ``message`` reach the client."""

    code = "BAD_REQUEST_ERROR"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidTransition(DomainError):
    """The trigger is not allowed from the object's current state (or a guard said no)."""


class ValidationError(DomainError):
    """Input that can never be valid, whatever the state."""


class AttemptsExhausted(DomainError):
    """An order had as many payment attempts as a caller may make on it."""

    code = "RATE_LIMITED"
