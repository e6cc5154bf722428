"""The Razorpay dialect's error envelope: every failure on ``/v1`` becomes
``{"error": {"code", "description", "source", "step", "reason", "metadata", "field"}}``.

Codes are Razorpay's, so that the official clients raise their own exceptions: any 4xx is
``BAD_REQUEST_ERROR`` (``razorpay.errors.BadRequestError``), any 5xx ``SERVER_ERROR``. The HTTP
status stays what the native front would answer (401, 409, 413, 422, 429...), except that an
unknown or foreign id is 400 "The id provided does not exist", as Razorpay answers. ``source``,
``step`` and ``reason`` say ``business`` / ``payment_initiation`` / ``input_validation_failed``
for a refused input or state, ``NA`` otherwise; ``reason`` carries the domain's own code in
lower case when it is more precise (``invalid_vpa``, ``expired_card``); ``field`` names the
request field at fault when one is known.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...engine.bridge import NotFound
from ...machines.errors import DomainError
from ..errors import ApiError, to_error

BAD_REQUEST = "BAD_REQUEST_ERROR"
SERVER_ERROR = "SERVER_ERROR"
NOT_FOUND = "The id provided does not exist"
AUTH_FAILED = "Authentication failed"
NA = "NA"
# The request field at fault, per refusal in flight: shared checks raise plain errors.
_FIELDS: weakref.WeakKeyDictionary[BaseException, str] = weakref.WeakKeyDictionary()


def unauthorized() -> ApiError:
    return ApiError(401, BAD_REQUEST, AUTH_FAILED)


def refused(description: str, field: str | None = None) -> ApiError:
    """A 400 decided by this front; ``field`` names the request field at fault."""
    error = ApiError(400, BAD_REQUEST, description)
    if field is not None:
        _FIELDS[error] = field
    return error


@contextmanager
def about(*fields: str) -> Iterator[None]:
    """Name the field at fault in any refusal raised inside the block (a shared check from
    ``http/inputs.py`` or ``machines/`` knows the rule, not the dialect's envelope): the one
    field given, or of several the one the refusal's description starts with."""
    try:
        yield
    except (ApiError, DomainError) as exc:
        if exc not in _FIELDS:
            text = str(exc)
            named = [f for f in fields if text.startswith(f + " ")]
            if len(fields) == 1 or named:
                _FIELDS[exc] = fields[0] if len(fields) == 1 else named[0]
        raise


def envelope(exc: BaseException | None, status: int = 500) -> tuple[ApiError, dict[str, Any]]:
    """The status, headers (as an ``ApiError``) and body to answer for ``exc``."""
    if isinstance(exc, NotFound):
        err = ApiError(400, BAD_REQUEST, NOT_FOUND)
    else:
        err = to_error(exc, status)
        if err.status == 401:  # whoever refused the credentials, Razorpay's words
            err = ApiError(401, BAD_REQUEST, AUTH_FAILED, err.headers)
    field = _FIELDS.get(exc) if exc is not None else None
    validation = err.status == 400 and err.description != NOT_FOUND
    if err.status >= 500:
        code, description = SERVER_ERROR, (
            err.description if err.status == 503 else "The server encountered an error")
    else:
        code, description = BAD_REQUEST, err.description
    reason = NA
    if err.code == "ACCOUNT_SUSPENDED":
        # Razorpay's clients raise on the code; the suspension is told by the reason.
        reason = "account_suspended"
    if validation:
        reason = "input_validation_failed"
        if isinstance(exc, DomainError) and exc.code != BAD_REQUEST:
            reason = exc.code.lower()
    body: dict[str, Any] = {"error": {"code": code, "description": description,
                      "source": "business" if validation else NA,
                      "step": "payment_initiation" if validation else NA,
                      "reason": reason, "metadata": {}, "field": field}}
    return ApiError(err.status, code, description, err.headers), body
