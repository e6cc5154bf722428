"""The operator dashboard's face on the engine: coroutines on the front's event loop.

Reads go through ``DashboardQueries`` (the async pool); sessions through ``SessionStore``
(engine/sessions.py); live updates through the process's one ``LiveFeed``. Password checks
(scrypt, ~50 ms of CPU that releases the GIL) run on a worker thread so the loop keeps serving.
Nothing here imports a web framework.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..machines.history import Step
from ..machines.models import Order, Refund
from ..machines.payment import PAYMENT
from ..machines.refund import REFUND
from ..machines.webhook import DELIVERY_STATUS, WEBHOOK_DELIVERY
from .clock import Clock
from .dashboard_lists import ANY_TIME, Window
from .dashboard_queries import MACHINE_TABLES, DashboardQueries
from .errors import NotFound
from .history import row_as_of
from .live import Counts, LiveFeed, feed_key
from .merchants import TEST_MERCHANT, Merchant, is_demo_merchant, merchant_from_row
from .secrets_hash import check_api_secret, check_password, hash_password
from .sessions import SessionStore

__all__ = ["DashboardBridge", "Window"]
SPECS = {spec.name: spec for spec in (PAYMENT, REFUND, WEBHOOK_DELIVERY)}


@functools.cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so a wrong email costs what a wrong password does."""
    return hash_password("paystate-dashboard-no-such-merchant", salt=b"\0" * 16)


class DashboardBridge:
    def __init__(self, queries: DashboardQueries, live: LiveFeed, clock: Clock,
                 cookie_secret: str, sessions: SessionStore, demo_merchant: bool = False) -> None:
        self.queries = queries
        # As ``Engine.demo_merchant``: off, the demo merchant's public password opens nothing.
        self._demo_merchant = demo_merchant
        self.live = live
        self._clock = clock
        self._sessions = sessions
        #: The key the dashboard signs its sign-in form cookie and derives XSRF tokens with
        #: (configured, or kept per database), the same in every process.
        self.cookie_secret = cookie_secret

    async def login(self, email: str, password: str) -> tuple[Merchant, str] | None:
        """The merchant and the token of a new session if the password is right, else None."""
        row = await self.queries.merchant_by_email(email)
        stored = row.get("password_hash") if row else None
        ok = await asyncio.to_thread(check_password, password, stored or _dummy_hash())
        if row is None or not stored or not ok or self._refused(row):
            return None
        return merchant_from_row(row), await self._sessions.start(str(row["id"]), stored)

    async def session(self, token: str) -> Merchant | None:
        """The merchant whose live session the cookie's ``token`` names, else None."""
        row = await self._sessions.find(token)
        return merchant_from_row(row) if row is not None and not self._refused(row) else None

    def _refused(self, row: dict[str, Any]) -> bool:
        """A suspended merchant signs in to nothing (its sessions were ended, too), and the
        demo merchant only where it is asked for."""
        return row.get("status") == "suspended" or (not self._demo_merchant
                                                     and is_demo_merchant(row))

    async def logout(self, token: str) -> None:
        await self._sessions.end(token)

    async def end_sessions(self, merchant_id: str) -> int:
        """End every dashboard session of the merchant, in every process, at once (a password
        change, a suspension); how many there were."""
        return await self._sessions.end_sessions(merchant_id)

    async def shown_api_secret(self, merchant: Merchant) -> str | None:
        """The API secret the dashboard may show, or None (shown masked). Secrets are stored
        hashed and cannot be shown again; the one exception is the seeded test merchant's,
        which is public (README), and only while it is still that merchant's valid secret."""
        known = TEST_MERCHANT["api_secret"]
        if merchant.id != TEST_MERCHANT["id"]:
            return None
        if merchant.livemode:
            return None
        row = await self.queries.merchant(merchant.id)
        return known if row and check_api_secret(known, row["api_secret_hash"]) else None

    async def stats(self, merchant: Merchant) -> dict[str, Any]:
        s = await self.queries.payment_stats(merchant.id, merchant.livemode)
        settled = s.get("succeeded", 0) + s.get("failed", 0)
        rate = round(100.0 * s.get("succeeded", 0) / settled, 1) if settled else None
        return {**s, "success_rate": rate}

    async def last_hour(self, merchant: Merchant) -> tuple[datetime, list[dict[str, Any]]]:
        """The start of the hour shown (a whole minute) and ``{minute, status, n}`` rows."""
        now = self._clock.now().replace(second=0, microsecond=0)
        since = now - timedelta(minutes=59)
        return since, await self.queries.payments_per_minute(merchant.id, merchant.livemode,
                                                             since)

    async def payments(self, merchant: Merchant, **kw: Any) -> tuple[list[Any], int]:
        return await self.queries.search_payments(merchant.id, merchant.livemode, **kw)

    async def refunds(self, merchant: Merchant, *, limit: int, offset: int,
                      window: Window = ANY_TIME) -> tuple[list[Refund], int]:
        return await self.queries.refunds_list(merchant.id, merchant.livemode, limit=limit,
                                               offset=offset, window=window)

    async def orders(self, merchant: Merchant, *, limit: int,
                     offset: int) -> tuple[list[Order], int, dict[str, int]]:
        """A page of orders, newest first, how many there are, and each order's number of
        payments (orders without any left out)."""
        orders, total = await self.queries.orders_list(merchant.id, merchant.livemode,
                                                       limit=limit, offset=offset)
        counts = await self.queries.payment_counts([o.id for o in orders]) if orders else {}
        return orders, total, counts

    async def deliveries(self, merchant: Merchant, *, status: str | None, limit: int,
                         offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of the merchant's webhook deliveries, newest first, with payloads; ``status``
        is the contract's word (pending, success, failed), None for every delivery."""
        states = tuple(s for s, word in DELIVERY_STATUS.items() if word == status)
        return await self.queries.deliveries(merchant.id, merchant.livemode, states=states,
                                             limit=limit, offset=offset)

    def export(self, merchant: Merchant, table: str,
               window: Window) -> AsyncIterator[list[dict[str, Any]]]:
        """The merchant's ``table`` ("payments" or "refunds") rows created in ``window``, newest
        first, in pages (``dashboard_lists.export_pages``): the caller writes each page out
        before the next is read."""
        return self.queries.export(table, merchant.id, merchant.livemode, window)

    async def attempts_of(self, delivery_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        return await self.queries.attempts_of(delivery_ids)

    async def in_mode(self, merchant: Merchant, live: bool) -> Merchant:
        """The signed-in merchant as the dashboard shows it in one mode (its Test/Live
        switch): its key of that mode (empty if it has none yet) and ``livemode``."""
        if not live:
            return merchant
        row = await self.queries.key_of_mode(merchant.id, "live")
        return replace(merchant, livemode=True, api_key=row["api_key"] if row else "")

    @staticmethod
    def live_key(merchant: Merchant) -> str:
        """What the merchant's live views subscribe to on ``live``: its objects of its mode."""
        return feed_key(merchant.id, merchant.livemode)

    async def state_counts(self, merchant: Merchant) -> Counts:
        return await self.queries.state_counts(merchant.id, merchant.livemode)

    async def state_counts_as_of(self, merchant: Merchant, at: datetime) -> Counts:
        """The counts per state as they stood at ``at`` (from the transitions; not live)."""
        return await self.queries.counts_as_of(at, merchant.id, merchant.livemode)

    async def timeline(self, merchant: Merchant, machine: str, object_id: str,
                       at: datetime | None = None
                       ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The object's row and its transitions, oldest first; ``NotFound`` unless it is one
        of the merchant's payments, refunds or deliveries. With ``at``: the row as it stood
        then, rebuilt from the transitions (``NotFound`` if it did not exist yet)."""
        if machine not in MACHINE_TABLES:
            raise NotFound("Object")
        what = machine.replace("_", " ").capitalize()
        row = await self.queries.object_row(machine, object_id)
        if row is None or not merchant.owns(row):
            raise NotFound(what)
        history = await self.queries.transitions(str(row["id"]))
        if at is not None:
            then = row_as_of(SPECS[machine], row, [Step.of(t) for t in history], at)
            if then is None:
                raise NotFound(what)
            row = then
        return row, history
