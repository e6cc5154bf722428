"""The admin API's handler base: ``Authorization: Bearer <operator token>``, checked before the
body is read; a changing call (any method but GET) needs an admin (a viewer: 403). Errors are
the native envelope."""

from __future__ import annotations

from typing import Any

from ...engine.admin_bridge import AdminBridge, Operator
from ..base import BaseHandler
from ..errors import ApiError


class AdminHandler(BaseHandler):
    operator: Operator | None

    def initialize(self, deps: Any) -> None:
        super().initialize(deps)
        self.operator = None

    @property
    def admin(self) -> AdminBridge:
        bridge: AdminBridge = self.deps.extras["admin"]
        return bridge

    async def prepare(self) -> None:
        await super().prepare()
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        operator = await self.admin.operator(token.strip()) if scheme.lower() == "bearer" \
            else None
        if operator is None:
            raise ApiError(401, "AUTHENTICATION_ERROR", "Invalid operator token",
                           {"WWW-Authenticate": "Bearer"})
        if self.request.method != "GET" and not operator.may_change:
            raise ApiError(403, "FORBIDDEN", "A viewer cannot change anything")
        self.operator = operator

    def me(self) -> Operator:
        assert self.operator is not None, "prepare() admits only a known operator"
        return self.operator
