"""The orders and refunds lists, an order's page, and the CSV exports of payments and refunds.

Lists are newest first, of the mode shown, a page of ``PAGE_SIZE`` at a time; the refunds list
and both exports take a date range (``filters.date_range``). An export is streamed: the engine
reads it in keyset pages (``DashboardBridge.export``) and each page is written and flushed
before the next is read, so a year of payments never sits in memory. Handlers run on the
front's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from . import csv_export
from .base import DashboardHandler
from .filters import date_range

PAGE_SIZE = 20
#: The export's name in its URL, and the table it reads (``transactions`` are payments).
EXPORT_TABLES = {"transactions": "payments", "refunds": "refunds"}


def page_number(raw: str | None) -> int:
    """``?page=``: 1 unless a positive number below a million."""
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 10**6 else 1


def pages_of(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def linker(path: str, query: dict[str, str]) -> Callable[[int], str]:
    """Links to page ``n`` of ``path`` that keep the list's filters (``query``)."""
    def link(n: int) -> str:
        return path + "?" + urlencode({**{k: v for k, v in query.items() if v}, "page": n})
    return link


class OrdersHandler(DashboardHandler):
    async def get(self) -> None:
        page = page_number(self.get_query_argument("page", None))
        orders, total, counts = await self.dashboard.orders(
            self.me(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        self.render_page("orders.html", active="orders", orders=orders, counts=counts,
                         total=total, page=page, pages=pages_of(total),
                         link=linker("/dashboard/orders", {}))


class OrderHandler(DashboardHandler):
    async def get(self, order_id: str) -> None:
        merchant = self.me()
        order = await self.engine.order(merchant, order_id)
        payments = await self.engine.payments_of_order(merchant, order.id)
        self.render_page("order.html", active="orders", order=order, payments=payments)


class RefundsHandler(DashboardHandler):
    async def get(self) -> None:
        dates = date_range(self.get_query_argument("from", ""),
                           self.get_query_argument("to", ""))
        page = page_number(self.get_query_argument("page", None))
        refunds, total = await self.dashboard.refunds(
            self.me(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, window=dates.window)
        self.render_page("refunds.html", active="refunds", refunds=refunds, total=total,
                         page=page, pages=pages_of(total), dates=dates,
                         export="/dashboard/refunds.csv?" + urlencode(dates.query()),
                         link=linker("/dashboard/refunds", dates.query()))


class ExportHandler(DashboardHandler):
    """``/dashboard/{transactions,refunds}.csv?from=&to=``: every payment (or refund) of the
    mode shown created in the range, newest first, as CSV (``csv_export``)."""

    async def get(self, name: str) -> None:
        table = EXPORT_TABLES[name]
        merchant = self.me()
        dates = date_range(self.get_query_argument("from", ""),
                           self.get_query_argument("to", ""))
        columns = csv_export.COLUMNS[table]
        mode = "live" if merchant.livemode else "test"
        filename = "-".join(p for p in (table, mode, dates.start, dates.end) if p) + ".csv"
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.write(csv_export.heading(columns))
        async for rows in self.dashboard.export(merchant, table, dates.window):
            self.write(csv_export.body(columns, rows))
            await self.flush()
