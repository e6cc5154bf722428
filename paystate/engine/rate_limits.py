"""Rate limits, built on the ``limits`` package.

``SharedLimits`` keeps its counters in Redis (moving windows), so every gateway process counts
against the same budget: the public endpoints (checkout) are limited per client address and per
order that way. ``LocalLimits`` counts in this process's memory (fixed windows): the merchant
API's per-key limit, which is generous and sits on the hot path, where a Redis round trip per
request would cost more than the limit is worth. With N processes a key gets N times it.

Both answer the same question: ``None`` when the request may go on, else the seconds after
which it may be retried (the ``Retry-After``).

A shared limit that cannot be counted (Redis down) fails open by default, for the checkout's
sake; a caller whose limit guards a secret (dashboard sign-in) passes a ``LocalLimits`` as
``fallback`` and the same checks are counted there instead: it fails closed, per process.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

Check = tuple[RateLimitItem, str, str]  # (limit, rule name, identifier)


def rate(text: str) -> RateLimitItem:
    """``"30/minute"`` as a limit; ``ValueError`` if it is not one."""
    return parse(text)


def _retry_after(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


class SharedLimits:
    """Moving-window limits in Redis, on the gateway's event loop.

    Redis being unreachable lets requests through (logged at most every 10 s): limiting is a
    shield for the gateway, and it must not turn a Redis outage into a checkout outage. Unless
    the caller gives a ``fallback``: then the checks are counted in that process-local table
    while Redis is away, so that an outage does not open unlimited password guessing."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._storage = RedisStorage("async+" + redis_url, implementation="redispy",
                                     key_prefix=f"{prefix}:limits", wrap_exceptions=True)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._warned_at = 0.0

    async def acquire(self, checks: Sequence[Check],
                      fallback: LocalLimits | None = None) -> int | None:
        """Count this request against every check; the Retry-After of the first one over its
        limit, or None. A refused request still counts: hammering does not pay. Runs on the
        event loop (``fallback`` is only used from it)."""
        try:
            for item, rule, ident in checks:
                if not await self._limiter.hit(item, rule, ident):
                    stats = await self._limiter.get_window_stats(item, rule, ident)
                    return _retry_after(stats.reset_time)
        except Exception as exc:  # noqa: BLE001 - limits wraps every storage error
            now = time.monotonic()
            if now - self._warned_at > 10:
                self._warned_at = now
                log.warning("rate limits unavailable, %s: %s", "counting in this process only"
                            if fallback is not None else "letting requests through", exc)
            if fallback is not None:
                return fallback.acquire_all(checks)
        return None


class LocalLimits:
    """Fixed-window counts in this process's memory, on the event loop's thread only.

    Not the ``limits`` package's memory storage: that one starts a timer thread to expire its
    counters whenever none is running, which under load meant a thread start (and a wait for it)
    on the event loop every few milliseconds, on every merchant request (py-spy). A window here
    is a start time and a count per key; stale windows are dropped as the table is swept."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sweep_every: int = 10_000,
                 ) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._sweep_every = sweep_every
        self._hits = 0

    def acquire(self, item: RateLimitItem, rule: str, ident: str) -> int | None:
        now = self._clock()
        length = item.get_expiry()
        key = (rule, ident)
        start, count = self._windows.get(key, (now, 0))
        if now - start >= length:
            start, count = now, 0
        self._hits += 1
        if self._hits % self._sweep_every == 0:
            self._windows = {k: w for k, w in self._windows.items() if now - w[0] < length}
        if count >= item.amount:
            self._windows[key] = (start, count)
            return max(1, math.ceil(start + length - now))
        self._windows[key] = (start, count + 1)
        return None

    def acquire_all(self, checks: Sequence[Check]) -> int | None:
        """``SharedLimits.acquire``'s answer, counted here: the first refusal's Retry-After."""
        for item, rule, ident in checks:
            retry_after = self.acquire(item, rule, ident)
            if retry_after is not None:
                return retry_after
        return None
