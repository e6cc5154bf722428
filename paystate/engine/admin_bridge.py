"""The engine's face for the admin API (the operators' front): who an operator token belongs
to, and the operations on merchants that the command line runs too. Coroutines on the event
loop; a front imports the types it needs from here."""

from __future__ import annotations

from .operators import Operator, OperatorTokens

__all__ = ["AdminBridge", "Operator"]


class AdminBridge:
    def __init__(self, tokens: OperatorTokens) -> None:
        self._tokens = tokens

    async def operator(self, token: str) -> Operator | None:
        """The operator whose API token this is, or None."""
        return await self._tokens.operator(token)
