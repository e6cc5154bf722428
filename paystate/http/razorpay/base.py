"""The Razorpay dialect's handler base: HTTP Basic credentials, the dialect's error envelope,
strict bodies and query strings, and the collection parameters (``count``, ``skip``, ``from``,
``to``). Everything else (bounded bodies, JSON parsing, metrics) is the shared ``BaseHandler``'s.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...engine.bridge import Merchant, mode_namespace
from .. import inputs
from ..base import BaseHandler
from .errors import about, envelope, refused, unauthorized

MAX_COUNT = 100
MAX_UNIX = 10**10  # year 2286: later is not a time anyone means
KEY_NAMESPACE = "razorpay"


@dataclass(frozen=True)
class Window:
    """One page of a collection: ``count`` items after ``skip``, created within [from, to]."""

    count: int
    skip: int
    created_from: datetime | None
    created_to: datetime | None

    def __call__(self, items: list[Any]) -> list[Any]:
        """The page of an already loaded list (newest first) - for short lists only."""
        kept = [i for i in items
                if (self.created_from is None or i.created_at >= self.created_from)
                and (self.created_to is None or i.created_at <= self.created_to)]
        return kept[self.skip:self.skip + self.count]


class RazorpayHandler(BaseHandler):
    """Runs on the gateway's event loop, like every handler. Every route needs the merchant's
    credentials, checked before the body is read (``BaseHandler.prepare``)."""

    merchant_auth = True

    def credentials(self) -> tuple[str, str]:
        """``Authorization: Basic base64(api_key:api_secret)``, as Razorpay's clients send."""
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or not token or len(token) > 1024:
            raise unauthorized()
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise unauthorized() from None
        key, colon, secret = decoded.partition(":")
        if not colon or not key or not secret or len(key) > 255 or len(secret) > 255:
            raise unauthorized()
        return key, secret

    @staticmethod
    def key_owner(merchant: Merchant) -> Callable[[], Awaitable[tuple[str, str]]]:
        """Idempotency keys of this dialect live in a namespace of their own: the same key
        sent to ``/api/v1`` is another key, and neither replays the other's response."""
        async def owner() -> tuple[str, str]:
            return merchant.id, mode_namespace(merchant, KEY_NAMESPACE)
        return owner

    def body(self, allowed: Iterable[str], *, optional: bool = False) -> dict[str, Any]:
        """The JSON object body, refusing fields this dialect does not support (Razorpay's
        own API refuses unknown fields too). ``optional``: an empty body reads as {}."""
        if optional and not self.raw_body().strip():
            return {}
        body = self.json_body()
        allowed = set(allowed)
        for name in body:
            if name not in allowed:
                raise refused(f"{name} is not supported by this API", name)
        return body

    def only_query(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in self.request.query_arguments:
            if name not in allowed:
                raise refused(f"query parameter {name} is not supported by this API", name)

    def window(self, *extra: str) -> Window:
        """``count`` (1-100, default 10), ``skip`` (default 0), ``from`` and ``to`` (unix
        seconds, inclusive); any other query parameter but ``extra`` is refused."""
        self.only_query(("count", "skip", "from", "to", *extra))

        def arg(name: str) -> str | None:
            return self.get_query_argument(name, None)

        with about("count"):
            count = inputs.query_int(arg("count"), "count", 10, MAX_COUNT)
            if count < 1:
                raise refused("count must be at least 1", "count")
        with about("skip"):
            skip = inputs.query_int(arg("skip"), "skip", 0, 10**9)
        bounds = [self.unix_time(arg(name), name) for name in ("from", "to")]
        return Window(count, skip, bounds[0], bounds[1])

    def as_of(self) -> datetime | None:
        """A fetch's one query parameter, ``as_of`` (unix seconds): the object as it stood
        then, rebuilt from its transitions (Paystate's own; Razorpay has none). It names its
        whole second (its millisecond, given with a fraction), as ``created_at`` shows it."""
        self.only_query(("as_of",))
        raw = self.get_query_argument("as_of", None)
        at = self.unix_time(raw, "as_of")
        if at is None or raw is None:
            return None
        last = 999_999 if "." not in raw else at.microsecond // 1000 * 1000 + 999
        return at.replace(microsecond=last)

    @staticmethod
    def unix_time(raw: str | None, name: str) -> datetime | None:
        """Unix seconds, whole or with a fraction (the Node client turns a Date into
        milliseconds / 1000)."""
        if raw is None or raw == "":
            return None
        whole, dot, fraction = raw.partition(".")
        if dot and not (fraction.isascii() and fraction.isdigit() and len(fraction) <= 9):
            raise refused(f"{name} must be unix seconds", name)
        with about(name):
            seconds = inputs.query_int(whole, name, 0, MAX_UNIX)
        return datetime.fromtimestamp(seconds + (int(fraction) / 10 ** len(fraction)
                                                 if dot else 0), UTC)

    def error_answer(self, exc: BaseException | None, status: int) -> tuple[Any, Any]:
        """Razorpay's envelope and codes (``errors.envelope``)."""
        return envelope(exc, status)


class UnsupportedHandler(RazorpayHandler):
    """Any other path under ``/v1``: Razorpay's API is larger than this dialect. A clear 400
    (the clients' ``BadRequestError``) rather than a 404 the clients would call a server
    error."""

    async def _unsupported(self, *args: Any) -> None:
        await self.merchant()  # strangers learn nothing, not even what is supported
        raise refused(f"{self.request.method} {self.request.path} is not supported by "
                      "Paystate's Razorpay-compatible API (see the README)")

    get = post = put = patch = delete = head = options = _unsupported
