"""The one place where failures become the contract's ``{"error": {"code", "description",
"param", "request_id"}}`` (``BaseHandler.error_answer`` renders it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tornado.web import HTTPError

from ..engine.bridge import (
    AccountSuspended,
    Conflict,
    DuplicateEmail,
    KeyInUseError,
    KeyReusedError,
    NotFound,
    dependency_down,
)
from ..machines.errors import AttemptsExhausted, DomainError

log = logging.getLogger(__name__)
# An order's attempts never come back: the hint only keeps a client from hammering.
ATTEMPTS_RETRY_AFTER_S = 3600


class ApiError(Exception):
    """A refusal decided by the front itself (bad input, auth, limits). ``param``, ``detail``
    and ``extra`` mean what they mean on ``machines.errors.DomainError``."""

    def __init__(self, status: int, code: str, description: str,
                 headers: dict[str, str] | None = None, *, param: str | None = None,
                 detail: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.headers = headers or {}
        self.param = param
        self.detail = detail
        self.extra = dict(extra or {})


def bad_request(description: str, param: str | None = None) -> ApiError:
    return ApiError(400, "BAD_REQUEST_ERROR", description, param=param)


def suspended() -> ApiError:
    """A suspended merchant's right credentials: refused, and told why (not a 401, which
    would send its developers hunting for a wrong key)."""
    return ApiError(403, "ACCOUNT_SUSPENDED", "This account is suspended")


def unauthorized(detail: str | None = None) -> ApiError:
    return ApiError(401, "AUTHENTICATION_ERROR", "Invalid API credentials", detail=detail)


STATUS_CODES = {400: "BAD_REQUEST_ERROR", 401: "AUTHENTICATION_ERROR", 403: "BAD_REQUEST_ERROR",
                404: "NOT_FOUND_ERROR", 405: "BAD_REQUEST_ERROR", 409: "CONFLICT",
                411: "BAD_REQUEST_ERROR", 413: "PAYLOAD_TOO_LARGE", 415: "BAD_REQUEST_ERROR",
                422: "BAD_REQUEST_ERROR", 429: "RATE_LIMITED", 503: "SERVICE_UNAVAILABLE"}


def to_error(exc: BaseException | None, status: int = 500) -> ApiError:
    """Translate anything raised while serving a request into an ``ApiError``."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NotFound):
        return ApiError(404, "NOT_FOUND_ERROR", f"{exc.what} not found")
    if isinstance(exc, AttemptsExhausted):
        return ApiError(429, exc.code, exc.message, {"Retry-After": str(ATTEMPTS_RETRY_AFTER_S)})
    if isinstance(exc, DomainError):
        return ApiError(400, exc.code, exc.message, param=exc.param, detail=exc.detail,
                        extra=exc.extra)
    if isinstance(exc, AccountSuspended):
        return suspended()
    if isinstance(exc, DuplicateEmail):
        return ApiError(409, "DUPLICATE_EMAIL", str(exc))
    if isinstance(exc, KeyReusedError):
        return ApiError(422, "IDEMPOTENCY_KEY_REUSED", str(exc))
    if isinstance(exc, KeyInUseError):
        return ApiError(409, "IDEMPOTENCY_KEY_IN_USE", str(exc),
                        {"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, Conflict):
        return ApiError(409, "CONFLICT", "The object changed concurrently; retry the request",
                        {"Retry-After": "1"})
    if isinstance(exc, HTTPError):
        status = exc.status_code
    elif exc is not None and dependency_down(exc):
        return ApiError(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable",
                        {"Retry-After": "1"})
    if status == 404:
        return ApiError(404, "NOT_FOUND_ERROR", "The requested URL was not found")
    if status == 405:
        return ApiError(405, "BAD_REQUEST_ERROR", "Method not allowed")
    if 400 <= status < 500:
        return ApiError(status, STATUS_CODES.get(status, "BAD_REQUEST_ERROR"), "Bad request")
    return ApiError(500, "INTERNAL_ERROR", "Internal server error")
