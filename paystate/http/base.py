"""The base handler: dependencies, bounded JSON bodies, authentication, the one error writer."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from limits import RateLimitItem
from tornado.web import RequestHandler, stream_request_body

from ..config import Settings
from ..encoding import json_bytes as dumps
from ..engine.bridge import Engine, Merchant
from .errors import ApiError, bad_request, suspended, to_error, unauthorized
from .guards import Guards
from .request_ids import request_id

log = logging.getLogger(__name__)
# A request refused before its body was read: a body up to this size is drained first.
DRAIN_BEFORE_REFUSAL = 64 * 1024


BASIC_HINT = ("This API takes the X-Api-Key and X-Api-Secret headers, not HTTP Basic "
              "authentication; Basic authentication works on the Razorpay-compatible API at /v1")

# A year, the usual HSTS lifetime; without includeSubDomains, which would bind sites beside
# the gateway that it knows nothing of.
HSTS = "max-age=31536000"


def strict_transport(handler: RequestHandler) -> None:
    """Send HSTS on an https request: seen directly, or through a proxy whose
    ``X-Forwarded-Proto`` is trusted (``TRUST_PROXY_HEADERS``: Tornado then takes the
    request's protocol from it). Browsers ignore the header over plain http."""
    if handler.request.protocol == "https":
        handler.set_header("Strict-Transport-Security", HSTS)


@dataclass(frozen=True)
class Deps:
    """Everything a handler may use, handed over by ``make_app``. ``guards`` (body budget,
    rate limits) are made from the settings unless given: one set per process."""

    engine: Engine
    settings: Settings
    extras: dict[str, Any] = field(default_factory=dict)
    guards: Guards = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.guards is None:
            object.__setattr__(self, "guards", Guards.from_settings(self.settings))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # 1e400 parses to inf, which neither jsonb nor a JSON response can hold.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _storable_text(value: Any) -> bool:
    """False if a string anywhere in ``value`` (object keys too) holds NUL or an unpaired
    surrogate: PostgreSQL text and jsonb store neither (the driver cannot even encode the
    latter), and JSON can smuggle both in as ``\\u`` escapes."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or _SURROGATE.search(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


_SURROGATE = re.compile("[\ud800-\udfff]")


@stream_request_body
class BaseHandler(RequestHandler):
    """Bodies are streamed so that an oversized one is drained and answered 413 in the
    contract's envelope instead of Tornado's bare 400, and so that no body of a merchant route
    is held before ``prepare`` has checked its credentials (``merchant_auth``). The bytes held
    are counted against the process's body budget; past it the request is answered 503.
    Public routes call ``limit_public`` first thing."""

    deps: Deps
    # The merchant's API credentials are required, and checked before the body is read.
    merchant_auth: ClassVar[bool] = False
    # Counted among the requests a stopping process waits for (an event stream, which lasts
    # as long as its browser watches, is not).
    counts_in_flight: ClassVar[bool] = True

    def initialize(self, deps: Deps) -> None:
        self.deps = deps
        self.engine = deps.engine
        self._chunks: list[bytes] = []
        self._size = 0
        self._held = 0
        self._too_large = False
        self._over_budget = False
        self._merchant: Merchant | None = None
        self._counted = False
        self._refusal: ApiError | None = None

    def set_default_headers(self) -> None:
        strict_transport(self)

    @property
    def max_body(self) -> int:
        return self.deps.settings.max_body_bytes

    async def prepare(self) -> None:
        if self.counts_in_flight:
            self.deps.guards.in_flight.start()
            self._counted = True
        length = self.request.headers.get("Content-Length")
        declared = int(length) if length is not None and length.isdigit() else None
        if declared is not None and declared > self.max_body:
            self._too_large = True
        if self.merchant_auth:
            try:
                await self.merchant()
            except ApiError as refusal:
                # Answering before the body is read makes Tornado close the connection, and a
                # client that reuses it sees a reset. A small body is drained (never held)
                # and the refusal goes out after it; a large or unsized one is cut off now.
                if declared is None and self.request.headers.get("Transfer-Encoding") or \
                        (declared or 0) > DRAIN_BEFORE_REFUSAL:
                    raise
                self._refusal = refusal

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._refusal is not None:
            return
        if self._too_large or self._size > self.max_body:
            self._too_large = True
            self._drop_body()
        elif self._over_budget or not self.deps.guards.budget.take(len(chunk)):
            self._over_budget = True
            self._drop_body()
        else:
            self._held += len(chunk)
            self._chunks.append(chunk)

    def _drop_body(self) -> None:
        self._chunks.clear()
        self.deps.guards.budget.give(self._held)
        self._held = 0

    def raw_body(self) -> bytes:
        if self._too_large:
            raise ApiError(413, "PAYLOAD_TOO_LARGE",
                           f"Request body too large: it exceeds {self.max_body} bytes")
        if self._over_budget:
            raise ApiError(503, "SERVICE_UNAVAILABLE",
                           "Too many requests in progress; retry shortly", {"Retry-After": "1"})
        return b"".join(self._chunks)

    def on_connection_close(self) -> None:
        # Tornado's own fails the body future. Without it a handler still waiting for its body
        # (the client left mid-body, or sent framing Tornado refused) waits forever, holding
        # its request, and a stopping process answers it 500.
        super().on_connection_close()
        self._drop_body()
        self._uncount()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.deps.guards.in_flight.end()

    async def limit_public(self, *checks: tuple[str, str, RateLimitItem]) -> None:
        """429 ``RATE_LIMITED`` with ``Retry-After`` if this client address or any of
        ``(rule, identifier, limit)`` is used up, counted in the limits every process shares.
        Public handlers call it first thing."""
        shared = self.engine.shared_limits
        if shared is None:
            return
        client = ("client", self.request.remote_ip or "-", self.deps.guards.public_rate)
        retry_after = await shared.acquire([(item, rule, ident)
                                            for rule, ident, item in (client, *checks)])
        if retry_after is not None:
            raise ApiError(429, "RATE_LIMITED", "Too many requests; retry later",
                           {"Retry-After": str(retry_after)})

    def json_body(self) -> dict[str, Any]:
        raw = self.raw_body()
        if not raw.strip():
            raise bad_request("Request body must be a JSON object")
        try:
            body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise bad_request("Malformed JSON body") from None
        if not isinstance(body, dict):
            raise bad_request("Request body must be a JSON object")
        if not _storable_text(body):
            raise bad_request("Strings must not contain NUL characters or unpaired surrogates")
        return body

    async def merchant(self) -> Merchant:
        """The caller, by its API credentials (once per request), held to the per-key rate."""
        if self._merchant is not None:
            return self._merchant
        if self._refusal is not None:
            raise self._refusal
        key, secret = self.credentials()
        merchant = await self.engine.authenticate(key, secret)
        if merchant is None:
            raise unauthorized()
        if merchant.suspended:
            raise suspended()
        guards = self.deps.guards
        retry_after = guards.local.acquire(guards.merchant_rate, "merchant", merchant.id)
        if retry_after is not None:
            raise ApiError(429, "RATE_LIMITED", "Too many requests for this API key",
                           {"Retry-After": str(retry_after)})
        self._merchant = merchant
        return merchant

    def credentials(self) -> tuple[str, str]:
        """(api_key, api_secret) as this dialect carries them (a front overrides where);
        ``unauthorized()`` when missing or malformed, saying where they go when the caller
        sent HTTP Basic instead (what Razorpay's and Stripe's clients send)."""
        key = self.request.headers.get("X-Api-Key")
        secret = self.request.headers.get("X-Api-Secret")
        if not key and self.request.headers.get("Authorization", "").lower().startswith(
                "basic "):
            raise unauthorized(BASIC_HINT)
        if not key or not secret or len(key) > 255 or len(secret) > 255:
            raise unauthorized()
        return key, secret

    def send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        self.finish(payload if isinstance(payload, bytes) else dumps(payload))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every failure's answer, through Tornado's own hook: the status and headers of
        ``error_answer``, and its body written by ``render_error``."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        err, body = self.error_answer(exc, status_code)
        self.clear()
        self.set_status(err.status)
        for name, value in err.headers.items():
            self.set_header(name, value)
        if err.status == 405:
            self.set_header("Allow", ", ".join(allowed_methods(type(self))))
        self.render_error(err, body)

    def error_answer(self, exc: BaseException | None, status: int) -> tuple[ApiError, Any]:
        """The dialect's answer to ``exc``: the status and headers, and the body. The native
        API's envelope: ``code``, ``description``, ``param`` (the request field at fault, or
        null), ``request_id`` (the ``X-Request-Id`` of this answer), then ``detail`` where
        there is more to say than the contract's ``description``, and any ``extra`` fields.
        A dialect overrides it."""
        err = to_error(exc, status)
        error: dict[str, Any] = {"code": err.code, "description": err.description,
                                 "param": err.param, "request_id": request_id(self.request)}
        if err.detail is not None:
            error["detail"] = err.detail
        return err, {"error": {**err.extra, **error}}

    def render_error(self, err: ApiError, body: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(body))

    def on_finish(self) -> None:
        self._drop_body()
        self._uncount()
        self.engine.metrics.observe_request(self.request.method or "", type(self).__name__,
                                            self.get_status(), self.request.request_time())

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Tornado's hook, called before ``write_error``: refusals are not logged, an outage
        is one line, anything else an error with its trace."""
        if isinstance(value, ApiError) or to_error(value).status < 500:
            return
        if to_error(value).status == 503:
            # A dependency is down: one line, no trace; /health names which one.
            log.warning("%s %s: dependency unavailable: %s: %s", self.request.method,
                        self.request.path, type(value).__name__, str(value).splitlines()[:1])
            return
        log.error("unhandled error on %s %s", self.request.method, self.request.path,
                  exc_info=(typ, value, tb))


def allowed_methods(handler: type[RequestHandler]) -> list[str]:
    """The methods ``handler`` serves (those it defines), for a 405's ``Allow`` header."""
    return [m for m in handler.SUPPORTED_METHODS
            if getattr(handler, m.lower(), None) is not getattr(RequestHandler, m.lower(), None)]


class NotFoundHandler(BaseHandler):
    """Unknown paths. It answers from the method, not from ``prepare``: a streamed request
    finished before its body was read makes Tornado close the connection after the response,
    and a client reusing that keep-alive connection would see a reset."""

    def _not_found(self, *args: Any) -> None:
        raise ApiError(404, "NOT_FOUND_ERROR", "The requested URL was not found")

    get = post = put = patch = delete = head = options = _not_found
