"""Operations endpoints: health, the seeded test merchant, job counts."""

from __future__ import annotations

from ... import __version__
from ...engine.bridge import TEST_MERCHANT
from ..base import BaseHandler


class HealthHandler(BaseHandler):
    """The engine's checks, and the running version (``paystate.__version__``)."""

    async def get(self) -> None:
        ok, body = await self.engine.health()
        self.send(200 if ok else 503, {**body, "version": __version__})


class TestMerchantHandler(BaseHandler):
    async def get(self) -> None:
        m = TEST_MERCHANT
        self.send(200, {"id": m["id"], "email": m["email"], "api_key": m["api_key"],
                        "seeded": True})


class JobsStatusHandler(BaseHandler):
    async def get(self) -> None:
        self.send(200, await self.engine.jobs_status())


class MetricsHandler(BaseHandler):
    async def get(self) -> None:
        body = await self.engine.metrics_text()
        self.set_header("Content-Type", self.engine.metrics.content_type)
        self.finish(body)
