"""The dashboard's data calls (JSON, 401 when signed out) and its server-sent events stream."""

from __future__ import annotations

import json
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.web import StaticFileHandler

from ..encoding import iso
from ..http.base import Deps
from .base import STATIC, DashboardHandler
from .views import URL_MACHINES, delivery_status

#: A comment line this often keeps proxies from closing an idle stream and finds dead peers.
KEEPALIVE_S = 15.0


def timeline_json(machine: str, row: dict[str, Any],
                  history: list[dict[str, Any]]) -> dict[str, Any]:
    state = row["status"]
    body: dict[str, Any] = {"id": str(row["id"]), "machine": machine, "state": state,
                            "final": state in ("success", "failed", "processed", "succeeded"),
                            "transitions": [
                                {"seq": t["seq"], "from_state": t["from_state"],
                                 "to_state": t["to_state"], "trigger": t["trigger"],
                                 "at": iso(t["at"]), "data": t["data"]} for t in history]}
    if machine == "webhook_delivery":
        body["status"] = delivery_status(state)
    return body


class CountsHandler(DashboardHandler):
    page = False

    async def get(self) -> None:
        self.send(200, await self.dashboard.state_counts(self.me()))


class TimelineHandler(DashboardHandler):
    page = False

    async def get(self, kind: str, object_id: str) -> None:
        machine = URL_MACHINES[kind]
        row, history = await self.dashboard.timeline(self.me(), machine, object_id)
        self.send(200, timeline_json(machine, row, history))


class EventsHandler(DashboardHandler):
    """``text/event-stream``: a ``counts`` snapshot, then the live feed's ``events`` and
    ``counts`` messages for the signed-in merchant until the browser goes away."""

    page = False
    # A stream lasts as long as its browser watches; a stopping process ends it.
    counts_in_flight = False

    async def get(self) -> None:
        merchant = self.me()
        live = self.dashboard.live
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("X-Accel-Buffering", "no")
        self.sub = live.subscribe(self.dashboard.live_key(merchant))
        try:
            counts = await self.dashboard.state_counts(merchant)
            live.seed(self.dashboard.live_key(merchant), counts)
            self.write("retry: 2000\n\n")
            self._message({"type": "counts", "counts": counts})
            await self.flush()
            while not self.sub.closed:
                try:
                    message = await self.sub.next(KEEPALIVE_S)
                except TimeoutError:
                    self.write(": keepalive\n\n")
                    await self.flush()
                    continue
                if message is None:
                    break
                self._message(message)
                await self.flush()
        except StreamClosedError:
            pass
        finally:
            live.unsubscribe(self.sub)
        if not self._finished:
            self.finish()

    def _message(self, message: dict[str, Any]) -> None:
        self.write(f"event: {message['type']}\ndata: {json.dumps(message, default=str)}\n\n")

    def on_connection_close(self) -> None:
        # Tornado's own ends a request whose body is still awaited (a GET may carry one):
        # without it that handler would wait forever.
        super().on_connection_close()
        sub = getattr(self, "sub", None)
        if sub is not None:
            self.dashboard.live.unsubscribe(sub)


class AssetHandler(StaticFileHandler):
    """The dashboard's CSS and JavaScript (same origin, so the CSP can stay at 'self')."""

    def initialize(self, deps: Deps) -> None:  # type: ignore[override]
        super().initialize(path=STATIC)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")
