"""Settings, read once from the environment into one frozen object.

Nothing else in the package reads ``os.environ``: bootstrap passes this object (or the parts of it
a component needs) explicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

TEST_MERCHANT_ID = "550e8400-e29b-41d4-a716-446655440000"


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number between 0 and 1, got {raw!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name} must be between 0 and 1, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``; the first when unset."""
    raw = (env.get(name) or "").strip().lower() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate in the ``limits`` notation ("20/minute", "5/second;100/hour")."""
    raw = (env.get(name) or "").strip() or default
    if not _RATE.fullmatch(raw):
        raise SettingsError(f"{name} must look like 20/minute or 5/second, got {raw!r}")
    return raw


_RATE = re.compile(r"\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?", re.ASCII)


def _secret(env: Mapping[str, str], name: str, minimum: int = 32) -> str:
    raw = env.get(name) or ""
    if raw and len(raw) < minimum:
        raise SettingsError(f"{name} must be at least {minimum} characters")
    return raw


@dataclass(frozen=True)
class Settings:
    database_url: str = "postgresql://paystate:paystate@127.0.0.1:54329/paystate"
    redis_url: str = "redis://127.0.0.1:63799/0"
    port: int = 8000
    host: str = "127.0.0.1"
    test_mode: bool = False
    test_processing_delay_ms: int = 1000
    test_payment_success: bool = True
    webhook_retry_intervals_test: bool = False
    upi_success_rate: float = 0.90
    card_success_rate: float = 0.95
    processing_delay_min_ms: int = 5000
    processing_delay_max_ms: int = 10000
    refund_delay_min_ms: int = 3000
    refund_delay_max_ms: int = 5000
    test_merchant_password: str = "password123"
    # The demo operator's (ops@example.com) console password, seeded with the demo merchant.
    test_operator_password: str = field(default="ops-password-123", repr=False)
    # The demo merchant of the README (public keys key_test_abc123 / secret_test_xyz789):
    # `paystate seed` creates it, and the gateway honours it, only where this or test_mode is
    # on. Off, a deployment has no account whose credentials are public.
    seed_test_merchant: bool = False
    webhook_allow_private: bool = False
    # Two per process: a shard takes every command waiting in its mailbox as one batch and one
    # commit, and with fewer shards more commands wait in each, so PostgreSQL runs fewer and
    # larger statements (make bench-e2e at c=64: 2.4 statements per payment with 2 shards
    # against 3.7 with 8, and a third less of PostgreSQL's CPU; creates/s the same).
    shards: int = 2
    # Objects (orders, payments, refunds) one process keeps cached, over all its shards: hints
    # that save a read, bounded so that a process's memory does not grow with what it saw. About
    # 0.5 KB each: 16,000 grew every process by 8 MB under many orders; 4,000 still hold the
    # last seconds of a busy process's objects, when the next call on them comes (an order's
    # payment), and a copy older than that is mostly stale anyway (settled by the worker).
    shard_cache: int = 4_000
    # Gateway processes of `serve`/`api` sharing the port (SO_REUSEPORT).
    processes: int = 1
    # Webhook POSTs one endpoint may have in flight from one process.
    webhook_endpoint_concurrency: int = 8
    # An endpoint whose every attempt failed for this many hours is disabled.
    webhook_disable_after_hours: int = 72
    # The event loop of a gateway process: "uvloop" or "asyncio".
    event_loop: str = "uvloop"
    # Work whose due time passed this long ago without being settled is re-enqueued from
    # PostgreSQL: the stream entry may have been lost with Redis.
    sweep_grace_ms: int = 3000
    sweep_interval_ms: int = 1000
    stream_claim_idle_ms: int = 30000
    max_body_bytes: int = 1024 * 1024
    stream_prefix: str = "paystate"
    # Public endpoints (checkout): shared limits in Redis, per client address and per order.
    public_rate_limit: str = "300/minute"
    public_payment_rate_limit: str = "20/minute"
    public_order_rate_limit: str = "120/minute"
    public_payment_attempts: int = 10
    # The merchant API, per API key and per process.
    merchant_rate_limit: str = "5000/second"
    # Client addresses from X-Forwarded-For / X-Real-Ip: only behind a proxy that sets them.
    trust_proxy_headers: bool = False
    # Slow or unfinished requests: seconds for a whole body, seconds a keep-alive connection
    # may sit idle (or take to send its headers), bytes of bodies held in memory at once.
    http_body_timeout_s: int = 10
    http_idle_timeout_s: int = 60
    http_body_buffer_bytes: int = 64 * 1024 * 1024
    # Key that signs dashboard session cookies. Empty: a random key generated once per
    # database and shared by its processes (bootstrap keeps it in gateway_keys).
    dashboard_cookie_secret: str = field(default="", repr=False)
    dashboard_session_hours: int = 8
    # A dashboard session with no request for this long ends (server-side sessions).
    dashboard_session_idle_minutes: int = 60
    # Dashboard sign-in attempts, per client address and per email, across processes.
    dashboard_login_rate_limit: str = "10/minute"
    # The Razorpay-compatible dialect at /v1 (paystate/http/razorpay/), beside /api/v1.
    razorpay_front: bool = True
    # Bearer token that /metrics and (outside TEST_MODE) the jobs status require. Empty: they
    # answer only callers on this machine that came without a proxy's forwarding headers.
    metrics_token: str = field(default="", repr=False)
    # prometheus_client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR): set by the
    # supervisor for its children (paystate/supervisor.py), so that /metrics adds up every
    # process of the deployment. Empty: this process's own metrics only.
    metrics_multiprocess_dir: str = ""

    @property
    def demo_merchant(self) -> bool:
        """Whether the demo merchant is asked for: seeded by ``paystate seed``, its credentials
        accepted, ``/api/v1/test/merchant`` answered."""
        return self.test_mode or self.seed_test_merchant

    @property
    def refund_delay_range_ms(self) -> tuple[int, int]:
        if self.test_mode:
            return (self.test_processing_delay_ms, self.test_processing_delay_ms)
        return (self.refund_delay_min_ms, self.refund_delay_max_ms)

    @property
    def webhook_retry_schedule_s(self) -> tuple[int, ...]:
        """Delay before attempt n (0-based) counted from the previous failure."""
        if self.webhook_retry_intervals_test:
            return (0, 5, 10, 15, 20)
        return (0, 60, 300, 1800, 7200)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        pmin = _int(env, "PROCESSING_DELAY_MIN", 5000)
        pmax = _int(env, "PROCESSING_DELAY_MAX", 10000)
        if pmax < pmin:
            raise SettingsError("PROCESSING_DELAY_MAX must be >= PROCESSING_DELAY_MIN")
        return cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            redis_url=env.get("REDIS_URL") or cls.redis_url,
            port=_int(env, "PORT", 8000, minimum=0),
            host=env.get("HOST") or "127.0.0.1",
            test_mode=_bool(env, "TEST_MODE", False),
            test_processing_delay_ms=_int(env, "TEST_PROCESSING_DELAY", 1000),
            test_payment_success=(env.get("TEST_PAYMENT_SUCCESS", "true").strip().lower()
                                  != "false"),
            webhook_retry_intervals_test=_bool(env, "WEBHOOK_RETRY_INTERVALS_TEST", False),
            upi_success_rate=_rate(env, "UPI_SUCCESS_RATE", 0.90),
            card_success_rate=_rate(env, "CARD_SUCCESS_RATE", 0.95),
            processing_delay_min_ms=pmin,
            processing_delay_max_ms=pmax,
            test_merchant_password=env.get("TEST_MERCHANT_PASSWORD") or "password123",
            test_operator_password=env.get("TEST_OPERATOR_PASSWORD") or "ops-password-123",
            seed_test_merchant=_bool(env, "SEED_TEST_MERCHANT", False),
            webhook_allow_private=_bool(env, "WEBHOOK_ALLOW_PRIVATE", False),
            shards=_int(env, "PAYSTATE_SHARDS", 2, minimum=1),
            shard_cache=_int(env, "PAYSTATE_SHARD_CACHE", 4_000, minimum=0),
            processes=_int(env, "PAYSTATE_PROCESSES", os.cpu_count() or 1, minimum=1),
            event_loop=_choice(env, "PAYSTATE_EVENT_LOOP", ("uvloop", "asyncio")),
            # WEBHOOK_MERCHANT_CONCURRENCY: its name from when a merchant had one endpoint.
            webhook_endpoint_concurrency=_int(
                env, "WEBHOOK_ENDPOINT_CONCURRENCY",
                _int(env, "WEBHOOK_MERCHANT_CONCURRENCY", 8, minimum=1), minimum=1),
            webhook_disable_after_hours=_int(env, "WEBHOOK_DISABLE_AFTER_HOURS", 72, minimum=1),
            stream_prefix=env.get("PAYSTATE_STREAM_PREFIX") or "paystate",
            public_rate_limit=_limit(env, "PUBLIC_RATE_LIMIT", "300/minute"),
            public_payment_rate_limit=_limit(env, "PUBLIC_PAYMENT_RATE_LIMIT", "20/minute"),
            public_order_rate_limit=_limit(env, "PUBLIC_ORDER_RATE_LIMIT", "120/minute"),
            public_payment_attempts=_int(env, "PUBLIC_PAYMENT_ATTEMPTS", 10, minimum=1),
            merchant_rate_limit=_limit(env, "MERCHANT_RATE_LIMIT", "5000/second"),
            trust_proxy_headers=_bool(env, "TRUST_PROXY_HEADERS", False),
            http_body_timeout_s=_int(env, "HTTP_BODY_TIMEOUT", 10, minimum=1),
            http_idle_timeout_s=_int(env, "HTTP_IDLE_TIMEOUT", 60, minimum=1),
            http_body_buffer_bytes=_int(env, "HTTP_BODY_BUFFER", 64 * 1024 * 1024,
                                        minimum=1024 * 1024),
            dashboard_cookie_secret=_secret(env, "DASHBOARD_COOKIE_SECRET"),
            dashboard_session_hours=_int(env, "DASHBOARD_SESSION_HOURS", 8, minimum=1),
            dashboard_session_idle_minutes=_int(env, "DASHBOARD_SESSION_IDLE_MINUTES", 60,
                                                minimum=1),
            dashboard_login_rate_limit=_limit(env, "DASHBOARD_LOGIN_RATE_LIMIT", "10/minute"),
            razorpay_front=_bool(env, "RAZORPAY_FRONT", True),
            metrics_token=_secret(env, "METRICS_TOKEN", minimum=16),
            metrics_multiprocess_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or "",
        )
