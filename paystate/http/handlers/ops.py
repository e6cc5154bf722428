"""Operations endpoints: health, the seeded test merchant, job counts, metrics."""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from ... import __version__
from ...engine.bridge import NotFound
from ..base import BaseHandler
from ..errors import ApiError

# Headers a proxy adds: a request that carries one came from somebody behind the proxy, even
# when the proxy itself connects from this machine.
FORWARDING = ("X-Forwarded-For", "X-Real-Ip", "Forwarded")


class OperatorHandler(BaseHandler):
    """An endpoint for the people who run the gateway, not for the public: with
    ``METRICS_TOKEN`` set it wants ``Authorization: Bearer <token>``; unset, it answers only
    a caller on this machine reaching the process directly (a local Prometheus, ``curl`` next
    to ``make run``). Anyone else gets 401 in the contract's envelope."""

    #: Where TEST_MODE=true, open to anyone (the contract's test endpoints are "no auth").
    open_in_test_mode = False

    def require_operator(self) -> None:
        """Called first thing by the handler's method; not from ``prepare``, where a refusal
        would make Tornado close a keep-alive connection that the client then reuses."""
        settings = self.deps.settings
        if self.open_in_test_mode and settings.test_mode:
            return
        if settings.metrics_token:
            scheme, _, given = self.request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                    given.strip().encode(), settings.metrics_token.encode()):
                return
        elif self._direct_local_caller():
            return
        raise ApiError(401, "AUTHENTICATION_ERROR", "Invalid API credentials",
                       {"WWW-Authenticate": 'Bearer realm="paystate-operations"'})

    def _direct_local_caller(self) -> bool:
        if any(name in self.request.headers for name in FORWARDING):
            return False
        try:
            return ip_address(self.request.remote_ip or "").is_loopback
        except ValueError:
            return False


class HealthHandler(BaseHandler):
    """The engine's checks, and the running version (``paystate.__version__``)."""

    async def get(self) -> None:
        ok, body = await self.engine.health()
        self.send(200 if ok else 503, {**body, "version": __version__})


class TestMerchantHandler(BaseHandler):
    """The demo merchant, where it is seeded (``TEST_MODE`` or ``SEED_TEST_MERCHANT``, and
    ``paystate seed`` ran); elsewhere 404, as for a path that does not exist."""

    async def get(self) -> None:
        shown = await self.engine.test_merchant()
        if shown is None:
            raise NotFound("Test merchant")
        self.send(200, {**shown, "seeded": True})


class JobsStatusHandler(OperatorHandler):
    open_in_test_mode = True

    async def get(self) -> None:
        self.require_operator()
        self.send(200, await self.engine.jobs_status())


class MetricsHandler(OperatorHandler):
    async def get(self) -> None:
        self.require_operator()
        body = await self.engine.metrics_text()
        self.set_header("Content-Type", self.engine.metrics.content_type)
        self.finish(body)
