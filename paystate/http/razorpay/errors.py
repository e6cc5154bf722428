"""The Razorpay dialect's error envelope: every failure on ``/v1`` becomes
``{"error": {"code", "description", "source", "step", "reason", "metadata", "field"}}``.

Codes are Razorpay's, so that the official clients raise their own exceptions: any 4xx is
``BAD_REQUEST_ERROR`` (``razorpay.errors.BadRequestError``), any 5xx ``SERVER_ERROR``. The HTTP
status stays what the native front would answer (401, 409, 413, 422, 429...), except that an
unknown or foreign id is 400 "The id provided does not exist", as Razorpay answers. ``source``,
``step`` and ``reason`` say ``business`` / ``payment_initiation`` / ``input_validation_failed``
for a refused input or state, ``NA`` otherwise; ``reason`` carries the domain's own code in
lower case when it is more precise (``invalid_vpa``, ``expired_card``); ``field`` names the
request field at fault when one is known (the refusal's ``param``). Where the native
envelope adds a ``detail`` to a text the native contract fixes, this dialect's
``description`` is that more precise text (Razorpay's own descriptions say why), and the
refusal's extra fields (``refundable``) are its ``metadata``.
"""

from __future__ import annotations

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


def unauthorized() -> ApiError:
    return ApiError(401, BAD_REQUEST, AUTH_FAILED)


def refused(description: str, field: str | None = None) -> ApiError:
    """A 400 decided by this front; ``field`` names the request field at fault."""
    return ApiError(400, BAD_REQUEST, description, param=field)


@contextmanager
def about(*fields: str) -> Iterator[None]:
    """Name the field at fault in any refusal raised inside the block that does not name its
    own ``param``: the one field given, or of several the one the refusal's description
    starts with."""
    try:
        yield
    except (ApiError, DomainError) as exc:
        if exc.param is None:
            text = str(exc)
            named = [f for f in fields if text.startswith(f + " ")]
            if len(fields) == 1 or named:
                exc.param = fields[0] if len(fields) == 1 else named[0]
        raise


def envelope(exc: BaseException | None, status: int = 500) -> tuple[ApiError, dict[str, Any]]:
    """The status, headers (as an ``ApiError``) and body to answer for ``exc``."""
    if isinstance(exc, NotFound):
        err = ApiError(400, BAD_REQUEST, NOT_FOUND)
    else:
        err = to_error(exc, status)
        if err.status == 401:  # whoever refused the credentials, Razorpay's words
            err = ApiError(401, BAD_REQUEST, AUTH_FAILED, err.headers)
    field = err.param
    validation = err.status == 400 and err.description != NOT_FOUND
    if err.status >= 500:
        code, description = SERVER_ERROR, (
            err.description if err.status == 503 else "The server encountered an error")
    else:
        code, description = BAD_REQUEST, err.detail or err.description
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
                      "reason": reason, "metadata": err.extra, "field": field}}
    return ApiError(err.status, code, description, err.headers), body
