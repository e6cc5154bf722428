"""The engine's face for the admin API (the operators' front): who an operator token belongs
to, and the operations on merchants that the command line runs too (``accounts.py``).
Coroutines on the event loop; a front imports the types it needs from here."""

from __future__ import annotations

from typing import Any, Protocol

from .operators import Operator, OperatorTokens

__all__ = ["AccountOperations", "AdminBridge", "Operator"]


class AccountOperations(Protocol):
    """The merchant operations the admin API offers (``accounts.AsyncAccounts``)."""

    async def create_account(self, name: str, email: str) -> dict[str, Any]: ...
    async def list_accounts(self) -> list[dict[str, Any]]: ...
    async def get_account(self, merchant_id: str) -> dict[str, Any]: ...
    async def suspend(self, merchant_id: str) -> dict[str, Any]: ...
    async def reinstate(self, merchant_id: str) -> dict[str, Any]: ...


class AdminBridge:
    def __init__(self, tokens: OperatorTokens, accounts: AccountOperations) -> None:
        self._tokens = tokens
        self._accounts = accounts

    async def operator(self, token: str) -> Operator | None:
        """The operator whose API token this is, or None."""
        return await self._tokens.operator(token)

    async def create_merchant(self, name: str, email: str) -> dict[str, Any]:
        """The new account, with its test and live keys, webhook secret and dashboard
        password: shown this once. ``DuplicateEmail`` for a taken email."""
        return await self._accounts.create_account(name, email)

    async def merchants(self) -> list[dict[str, Any]]:
        return await self._accounts.list_accounts()

    async def merchant(self, merchant_id: str) -> dict[str, Any]:
        return await self._accounts.get_account(merchant_id)

    async def suspend(self, merchant_id: str) -> dict[str, Any]:
        return await self._accounts.suspend(merchant_id)

    async def reinstate(self, merchant_id: str) -> dict[str, Any]:
        return await self._accounts.reinstate(merchant_id)
