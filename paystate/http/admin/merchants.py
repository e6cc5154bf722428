"""``/admin/v1/merchants``: the operators' onboarding and suspension of merchants, through the
same engine operations as ``paystate merchants ...`` on the command line."""

from __future__ import annotations

from .. import inputs
from ..errors import bad_request
from .base import AdminHandler
from .figures import AuditHandler, StatsHandler

FIELDS = ("name", "email")


class MerchantsHandler(AdminHandler):
    async def post(self) -> None:
        """``{name, email}`` -> 201, the new account with its keys and passwords, shown once."""
        body = inputs.known(self.json_body(), FIELDS)
        values = {}
        for name in FIELDS:
            value = body.get(name)
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise bad_request(f"{name} is required: a string of 1 to 255 characters", name)
            values[name] = value.strip()
        self.send(201, await self.admin.create_merchant(self.me(), values["name"],
                                                         values["email"]))

    async def get(self) -> None:
        self.send(200, {"data": await self.admin.merchants()})


class MerchantHandler(AdminHandler):
    async def get(self, merchant_id: str) -> None:
        self.send(200, await self.admin.merchant(merchant_id))


class SuspendHandler(AdminHandler):
    async def post(self, merchant_id: str) -> None:
        self.send(200, await self.admin.suspend(self.me(), merchant_id))


class ReinstateHandler(AdminHandler):
    async def post(self, merchant_id: str) -> None:
        self.send(200, await self.admin.reinstate(self.me(), merchant_id))


def admin_routes() -> list[tuple[str, type]]:
    merchant = r"/admin/v1/merchants/([A-Za-z0-9\-]{1,64})"
    return [
        (r"/admin/v1/merchants", MerchantsHandler),
        (merchant + r"/suspend", SuspendHandler),
        (merchant + r"/reinstate", ReinstateHandler),
        (merchant, MerchantHandler),
        (r"/admin/v1/audit", AuditHandler),
        (r"/admin/v1/stats", StatsHandler),
    ]
