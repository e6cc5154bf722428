"""``Idempotency-Key`` on the creating POSTs: each handler hands its create to ``create_once``,
which runs the engine's protocol (``Engine.create_once``) and sends what it answers: the
first answer, or the stored one replayed with ``Idempotent-Replayed: true``. The engine's
refusals (422 ``IDEMPOTENCY_KEY_REUSED``, 409 ``IDEMPOTENCY_KEY_IN_USE`` with ``Retry-After``)
become the envelope in ``errors.to_error``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..engine.bridge import HEADER, Answered, Keyed, KeyedRequest, Owner
from .base import BaseHandler, dumps
from .errors import to_error

REPLAYED_HEADER = "Idempotent-Replayed"
T = TypeVar("T")


async def create_once(handler: BaseHandler, owner: Owner, body: dict[str, Any], kind: str,
                      create: Callable[[Keyed | None], Awaitable[T | Answered]],
                      render: Callable[[T], Any], status: int = 201) -> None:
    """Run ``create`` at most once per (merchant, namespace, key) and answer the request.
    ``owner``, ``kind`` and ``create`` as ``keyed_creates.create_once`` takes them; ``render``
    turns the created object into the JSON body. Runs on the gateway's loop."""
    request = handler.request
    reply = await handler.engine.create_once(
        key=request.headers.get(HEADER), owner=owner,
        request=KeyedRequest(request.method or "POST", request.path, body), kind=kind,
        create=create, render=lambda created: dumps(render(created)), status=status,
        is_refusal=lambda exc: to_error(exc).status < 500)
    handler.send(reply.status, reply.body,
                 {REPLAYED_HEADER: "true"} if reply.replayed else None)
