"""The engine's face for the admin API (the operators' front): who an operator token belongs
to, and the operations on merchants that the command line runs too (``accounts.py``).
Coroutines on the event loop; a front imports the types it needs from here."""

from __future__ import annotations

from typing import Any, Protocol

from .audit import Actor, AuditLog
from .operators import Operator, OperatorTokens

__all__ = ["AccountOperations", "AdminBridge", "Operator", "operator_actor"]


def operator_actor(operator: Operator) -> Actor:
    """How an operator appears in the audit log: by email."""
    return Actor("operator", operator.email)


class AccountOperations(Protocol):
    """The merchant operations the admin API offers (``accounts.AsyncAccounts``)."""

    async def create_account(self, name: str, email: str,
                             actor: Actor | None = None) -> dict[str, Any]: ...
    async def list_accounts(self) -> list[dict[str, Any]]: ...
    async def get_account(self, merchant_id: str) -> dict[str, Any]: ...
    async def suspend(self, merchant_id: str, actor: Actor | None = None) -> dict[str, Any]: ...
    async def reinstate(self, merchant_id: str,
                        actor: Actor | None = None) -> dict[str, Any]: ...


class Figures(Protocol):
    """The /ops figures (``ops_queries.OpsQueries.overview``)."""

    async def overview(self, livemode: bool | None) -> dict[str, Any]: ...


class AdminBridge:
    def __init__(self, tokens: OperatorTokens, accounts: AccountOperations, audit: AuditLog,
                 figures: Figures) -> None:
        self._tokens = tokens
        self._accounts = accounts
        self._audit = audit
        self._figures = figures

    async def operator(self, token: str) -> Operator | None:
        """The operator whose API token this is, or None."""
        return await self._tokens.operator(token)

    async def create_merchant(self, operator: Operator, name: str,
                              email: str) -> dict[str, Any]:
        """The new account, with its test and live keys, webhook secret and dashboard
        password: shown this once. ``DuplicateEmail`` for a taken email. Audited."""
        return await self._accounts.create_account(name, email, operator_actor(operator))

    async def merchants(self) -> list[dict[str, Any]]:
        return await self._accounts.list_accounts()

    async def merchant(self, merchant_id: str) -> dict[str, Any]:
        return await self._accounts.get_account(merchant_id)

    async def suspend(self, operator: Operator, merchant_id: str) -> dict[str, Any]:
        """Audited in the suspension's transaction."""
        return await self._accounts.suspend(merchant_id, operator_actor(operator))

    async def reinstate(self, operator: Operator, merchant_id: str) -> dict[str, Any]:
        return await self._accounts.reinstate(merchant_id, operator_actor(operator))

    async def audit(self, limit: int, before: int | None,
                    target: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """A page of the audit log, newest first, and the next page's cursor (None: last)."""
        return await self._audit.page(limit, before, target)

    async def stats(self, livemode: bool | None) -> dict[str, Any]:
        """The /ops figures (both modes with ``livemode`` None)."""
        return await self._figures.overview(livemode)
