"""``GET /admin/v1/audit`` (the audit log, newest first, by cursor) and ``GET /admin/v1/stats``
(the figures of the ``/ops`` overview as JSON). Both read-only: a viewer's token may call them."""

from __future__ import annotations

from ..errors import bad_request
from .base import AdminHandler

MODES = {"test": False, "live": True, "all": None}


class AuditHandler(AdminHandler):
    async def get(self) -> None:
        """``?limit=`` (1 to 200, default 50), ``?before=`` (the previous page's
        ``next_before``), ``?target=`` (e.g. ``merchant:<id>``)."""
        limit = self._whole("limit", 50, 1, 200)
        before = self.get_query_argument("before", None)
        target = self.get_query_argument("target", None)
        if target is not None and not 0 < len(target) <= 100:
            raise bad_request("target must be 1 to 100 characters")
        rows, next_before = await self.admin.audit(
            limit, None if before is None else self._whole("before", 0, 1, 2**62), target)
        self.send(200, {"data": rows, "has_more": next_before is not None,
                        "next_before": next_before})

    def _whole(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise bad_request(f"{name} must be a whole number from {low} to {high}")
        return int(raw)


class StatsHandler(AdminHandler):
    async def get(self) -> None:
        """``?mode=test|live|all`` (default all)."""
        mode = self.get_query_argument("mode", "all")
        if mode not in MODES:
            raise bad_request("mode must be one of test, live, all")
        self.send(200, await self.admin.stats(MODES[mode]))
