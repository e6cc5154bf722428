"""The engine's face for the operator console (``/ops``, ``paystate/ops/``): sign-in sessions,
the deployment's figures, merchants, the audit log, and the operators' actions.

Every action goes through the same engine operation as the API or the command line
(``accounts`` suspend and reinstate, ``WebhookEndpoints.update``, ``WebhookBridge.retry`` and
``recover``) and appends an audit row naming the operator: in the change's own transaction
where the operation has one (suspend, reinstate), right after it commits otherwise. Whether an
operator may change anything (role admin) is the front's check, made before any of these is
called. Coroutines on the front's event loop; nothing here imports a web framework.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..encoding import iso
from .admin_bridge import AccountOperations, operator_actor
from .audit import AuditLog
from .errors import NotFound
from .merchants import Merchant
from .operator_sessions import OperatorSessions
from .operators import Operator
from .ops_merchants import OpsMerchants
from .ops_queries import OpsQueries
from .webhooks.bridge import WebhookBridge
from .webhooks.endpoints import parse_since

__all__ = ["Operator", "OpsBridge", "parse_since"]


class OpsBridge:
    def __init__(self, sessions: OperatorSessions, figures: OpsQueries,
                 merchants: OpsMerchants, accounts: AccountOperations, webhooks: WebhookBridge,
                 audit: AuditLog, cookie_secret: str) -> None:
        self._sessions = sessions
        self.figures = figures
        self._merchants = merchants
        self._accounts = accounts
        self._webhooks = webhooks
        self._audit = audit
        #: The console's key for its sign-in form cookie and XSRF tokens (the dashboard's
        #: key; the tokens name their purpose, so one front's never passes the other's check).
        self.cookie_secret = cookie_secret

    # -- sessions ------------------------------------------------------------------------

    async def login(self, email: str, password: str) -> tuple[Operator, str] | None:
        return await self._sessions.login(email, password)

    async def session(self, token: str) -> Operator | None:
        return await self._sessions.find(token)

    async def logout(self, token: str) -> None:
        await self._sessions.end(token)

    # -- reads ---------------------------------------------------------------------------

    async def overview(self, livemode: bool | None) -> dict[str, Any]:
        return await self.figures.overview(livemode)

    async def overview_as_of(self, at: datetime, livemode: bool | None) -> dict[str, Any]:
        """The overview's counts as they stood at ``at``; the rest of the figures (rates,
        stuck work, workers, streams, health) are about now and are not shown with them."""
        return {"at": iso(at), "counts": await self.figures.counts_as_of(at, livemode)}

    async def merchants(self, query: str, status: str) -> list[dict[str, Any]]:
        return await self._merchants.search(query, status)

    async def merchant(self, merchant_id: str) -> dict[str, Any]:
        """``OpsMerchants.detail``, each endpoint with its health (``WebhookEndpoints.health``:
        success rate over 24 h, last answer)."""
        detail = await self._merchants.detail(merchant_id)
        health: dict[Any, dict[str, Any]] = {}
        for livemode in (False, True):
            health.update(await self._webhooks.endpoints.health(
                _as_merchant(detail["merchant"]["id"], livemode)))
        detail["endpoints"] = [{**e, **health.get(e["id"], {})} for e in detail["endpoints"]]
        return detail

    async def audit(self, limit: int, before: int | None,
                    target: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
        return await self._audit.page(limit, before, target)

    # -- actions (admins only: checked by the front) -------------------------------------

    async def suspend(self, operator: Operator, merchant_id: str) -> dict[str, Any]:
        return await self._accounts.suspend(merchant_id, operator_actor(operator))

    async def reinstate(self, operator: Operator, merchant_id: str) -> dict[str, Any]:
        return await self._accounts.reinstate(merchant_id, operator_actor(operator))

    async def set_endpoint_disabled(self, operator: Operator, merchant_id: str,
                                    endpoint_id: str, disabled: bool) -> dict[str, Any]:
        """Disable or enable one of the merchant's endpoints (``WebhookEndpoints.update``)."""
        as_merchant = await self._owner("webhook_endpoints", merchant_id, endpoint_id,
                                        "Webhook endpoint")
        row = await self._webhooks.endpoints.update(
            as_merchant, endpoint_id, {"disabled": disabled}, by=f"an operator ({operator.email})")
        await self._webhooks.audit(operator_actor(operator),
                                   "endpoint.disable" if disabled else "endpoint.enable",
                                   f"endpoint:{endpoint_id}", {"merchant_id": merchant_id})
        return row

    async def retry(self, operator: Operator, merchant_id: str,
                    delivery_id: str) -> dict[str, Any]:
        """A manual retry of one of the merchant's deliveries (``WebhookBridge.retry``)."""
        as_merchant = await self._owner("webhook_logs", merchant_id, delivery_id, "Webhook")
        answer = await self._webhooks.retry(as_merchant, delivery_id)
        await self._webhooks.audit(operator_actor(operator), "delivery.retry",
                                   f"delivery:{answer['id']}", {"merchant_id": merchant_id})
        return answer

    async def recover(self, operator: Operator, merchant_id: str, endpoint_id: str,
                      since: datetime) -> int:
        """Every failed delivery of the endpoint since ``since`` is sent again
        (``WebhookBridge.recover``); how many."""
        as_merchant = await self._owner("webhook_endpoints", merchant_id, endpoint_id,
                                        "Webhook endpoint")
        n = await self._webhooks.recover(as_merchant, endpoint_id, since.isoformat())
        await self._webhooks.audit(operator_actor(operator), "endpoint.recover",
                                   f"endpoint:{endpoint_id}",
                                   {"merchant_id": merchant_id, "since": since.isoformat(),
                                    "deliveries": n})
        return n

    async def _owner(self, table: str, merchant_id: str, object_id: str,
                     what: str) -> Merchant:
        """The merchant as the webhook operations take it (its id and the object's mode),
        after checking the object is that merchant's; ``NotFound`` otherwise."""
        owner = await self._merchants.owner(table, object_id)
        if owner is None or owner["merchant_id"] != merchant_id:
            raise NotFound(what)
        return _as_merchant(merchant_id, owner["livemode"])


def _as_merchant(merchant_id: str, livemode: bool) -> Merchant:
    """The merchant as the webhook operations take it: they read its id and mode only."""
    return Merchant(id=merchant_id, name="", email="", api_key="", webhook_secret="",
                    livemode=livemode)
