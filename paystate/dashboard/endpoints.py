"""The webhooks page's Endpoints forms: add, edit, disable or enable, delete, roll a secret, send
a test event, recover failed deliveries. Thin, as the API's handlers
(``http/handlers/webhook_endpoints.py``): each reads its form and calls the same engine operation
(``WebhookBridge.endpoints``, ``recover``, ``send_test``), so the rules (events of a format, the
URL check, 16 endpoints a mode, the roll's hours) live there once. A refusal (``DomainError``) is
decided before anything is written, so it changes nothing; it is shown in the section, answered
400, with the refused form's values.

What changes plainly (edit, status, delete) redirects with a notice key (post/redirect/get); what
the merchant must read once (a new secret, a test's outcome, a recover count) is the POST's own
answer, as the home page's key roll is, so a secret never sits in a URL or a log. Handlers run on
the front's event loop; ``post`` in ``base.py`` has checked the XSRF token before ``submit``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from ..machines.endpoints import ALL, FORMATS
from ..machines.errors import DomainError
from .pages import WebhooksHandler

T = TypeVar("T")
#: datetime-local carries no offset: the page shows times in UTC, so the field is read as UTC.
SINCE_OFFSET = "+00:00"


class EndpointForm(WebhooksHandler):
    """Base of the forms: the refused-form path every one of them shares."""

    async def attempt(self, action: Awaitable[T], endpoint_id: str | None = None,
                      form: dict[str, Any] | None = None) -> T | None:
        """``action``'s result, or None after showing its refusal in the section (400), with
        ``endpoint_id``'s panel open and ``form``'s values in its fields."""
        try:
            return await action
        except DomainError as exc:
            self.set_status(400)
            await self.show(panel={"error": exc.message, "open_id": endpoint_id, "form": form})
            return None

    def submitted(self, endpoint_id: str | None, fmt: str) -> dict[str, Any]:
        """The form's values, in ``views.endpoint_form``'s shape. Events come from the
        checkboxes of ``fmt`` (``events_<format>``: the add form shows every format's) or
        "all events"."""
        fmt = fmt if fmt in FORMATS else "paystate"
        return {"id": endpoint_id, "url": self.get_body_argument("url", "").strip(),
                "description": self.get_body_argument("description", "").strip(),
                "format": fmt, "all": bool(self.get_body_argument("all_events", "")),
                "events": self.get_body_arguments(f"events_{fmt}")}


def _body(form: dict[str, Any]) -> dict[str, Any]:
    """The engine's body for ``form``: an empty description is none."""
    return {"url": form["url"], "description": form["description"] or None,
            "enabled_events": [ALL] if form["all"] else form["events"]}


class EndpointCreateHandler(EndpointForm):
    async def submit(self) -> None:
        form = self.submitted(None, self.get_body_argument("format", ""))
        # The format as chosen, not as defaulted: the engine names a wrong one.
        body = {**_body(form), "format": self.get_body_argument("format", "") or None}
        row = await self.attempt(self.webhooks.endpoints.create(self.me(), body), form=form)
        if row is not None:
            self.set_status(201)
            await self.show(panel={"notice": "Endpoint added.", "revealed": row})


class EndpointUpdateHandler(EndpointForm):
    """The edit form: url, events, description (a format is chosen once, at creation)."""

    async def submit(self, endpoint_id: str) -> None:  # type: ignore[override]
        current = await self.webhooks.endpoints.get(self.me(), endpoint_id)
        form = self.submitted(current["id"], current["format"])
        if await self.attempt(self.webhooks.endpoints.update(self.me(), current["id"],
                                                             _body(form)),
                              current["id"], form) is not None:
            self.redirect("/dashboard/webhooks?notice=endpoint_saved#endpoints")


class EndpointStatusHandler(EndpointForm):
    """``disabled=1`` disables, ``disabled=0`` enables."""

    async def submit(self, endpoint_id: str) -> None:  # type: ignore[override]
        disabled = self.get_body_argument("disabled", "") == "1"
        if await self.attempt(self.webhooks.endpoints.update(
                self.me(), endpoint_id, {"disabled": disabled}), endpoint_id) is not None:
            key = "endpoint_disabled" if disabled else "endpoint_enabled"
            self.redirect(f"/dashboard/webhooks?notice={key}#endpoints")


class EndpointDeleteHandler(EndpointForm):
    """The confirm step's form (``?delete=`` shows it); the row's button only links there."""

    async def submit(self, endpoint_id: str) -> None:  # type: ignore[override]
        await self.webhooks.endpoints.delete(self.me(), endpoint_id)
        self.redirect("/dashboard/webhooks?notice=endpoint_deleted#endpoints")


class EndpointRollHandler(EndpointForm):
    async def submit(self, endpoint_id: str) -> None:  # type: ignore[override]
        text = self.get_body_argument("expires_in_hours", "").strip()
        # Digits become the number the engine checks; anything else is handed over as it is,
        # for the engine's own refusal to name the range.
        hours: Any = int(text) if text.isdigit() else (text or None)
        row = await self.attempt(self.webhooks.endpoints.roll_secret(self.me(), endpoint_id,
                                                                     hours), endpoint_id)
        if row is not None:
            await self.show(panel={"notice": "Signing secret rolled.", "revealed": row,
                                   "open_id": row["id"]})


class EndpointTestHandler(EndpointForm):
    """A ``webhook.test`` delivery to this endpoint; answers once its first attempt is
    recorded (``WebhookBridge.send_test`` waits a few seconds at most)."""

    async def submit(self, endpoint_id: str) -> None:  # type: ignore[override]
        sent = await self.attempt(self.webhooks.send_test(self.me(), endpoint_id), endpoint_id)
        if sent is not None:
            await self.show(panel={"test": {"endpoint_id": endpoint_id, "delivery": sent[0]},
                                   "open_id": endpoint_id})


class EndpointRecoverHandler(EndpointForm):
    """Every failed delivery of the endpoint created since the ``since`` field (UTC) is sent
    again."""

    async def submit(self, endpoint_id: str) -> None:  # type: ignore[override]
        since = self.get_body_argument("since", "").strip()
        if since and "T" in since and since.count(":") == 1:
            since += ":00"  # datetime-local leaves out zero seconds
        count = await self.attempt(self.webhooks.recover(
            self.me(), endpoint_id, since + SINCE_OFFSET if since else None), endpoint_id)
        if count is not None:
            await self.show(panel={"recovered": count, "open_id": endpoint_id})
