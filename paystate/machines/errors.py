"""Domain errors: a request that the rules of the domain refuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every refusal decided by the domain; ``code`` and ``message`` reach the client.

    ``param`` names the request field at fault where the rule knows it (``amount``,
    ``card.number``); ``detail`` says more precisely why, where ``message`` is a text the
    contract fixes for several cases ("Payment not in capturable state"); ``extra`` holds
    further fields of the error body (``{"refundable": 12345}``)."""

    code = "BAD_REQUEST_ERROR"

    def __init__(self, message: str, code: str | None = None, *, param: str | None = None,
                 detail: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.detail = detail
        self.extra = dict(extra or {})


class InvalidTransition(DomainError):
    """The trigger is not allowed from the object's current state (or a guard said no)."""


class ValidationError(DomainError):
    """Input that can never be valid, whatever the state."""


class AttemptsExhausted(DomainError):
    """An order had as many payment attempts as a caller may make on it."""

    code = "RATE_LIMITED"
