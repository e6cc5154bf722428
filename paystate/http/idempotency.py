"""``Idempotency-Key`` on the creating POSTs: each handler hands its create to ``create_once``.

The front's part is to name the request (a fingerprint of method, path and canonical body),
check the key's shape, and turn the engine's answer into HTTP: a replay of the stored bytes with
``Idempotent-Replayed: true``, 422 ``IDEMPOTENCY_KEY_REUSED``, or 409 ``IDEMPOTENCY_KEY_IN_USE``
with ``Retry-After``. Keys, leases and stored responses live in ``engine/idempotency.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from ..engine.commands import Answered, Keyed, KeyedAnswer
from ..engine.errors import KeyTaken
from ..engine.idempotency import (
    MAX_KEY_LENGTH,
    PREFIXES,
    Claimed,
    IdempotencyStore,
    KeyInUse,
    KeyReused,
)
from ..engine.ids import new_id
from .base import BaseHandler, dumps
from .errors import ApiError, bad_request, to_error

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
T = TypeVar("T")


def fingerprint(method: str, path: str, body: dict[str, Any], card_key: bytes = b"") -> str:
    """sha256 (hex) of the method, the path and the body as canonical JSON (sorted keys,
    compact). A card enters as a keyed hash (HMAC-SHA256 with ``card_key``, the gateway's own
    secret) of its whole number, expiry and CVV: two cards that share their last four digits
    differ, and the stored fingerprint cannot be brute-forced from a BIN and last four digits
    without the key."""
    canonical = json.dumps(_card_hashed(body, card_key), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    digest = hashlib.sha256()
    for part in (method.upper(), path, canonical):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _card_hashed(body: dict[str, Any], card_key: bytes) -> dict[str, Any]:
    card = body.get("card")
    if not isinstance(card, dict):
        return body
    secret_parts = {k: card.get(k) for k in ("number", "expiry_month", "expiry_year", "cvv")}
    if isinstance(secret_parts["number"], str):
        secret_parts["number"] = "".join(ch for ch in secret_parts["number"] if ch.isdigit())
    sealed = hmac.new(card_key, json.dumps(secret_parts, sort_keys=True).encode(),
                      hashlib.sha256).hexdigest()
    rest = {k: v for k, v in card.items() if k not in secret_parts}
    return {**body, "card": {**rest, "sealed": sealed}}


async def create_once(handler: BaseHandler,
                      owner: str | Callable[[], Awaitable[tuple[str, str]]],
                      body: dict[str, Any], kind: str,
                      create: Callable[[Keyed | None], Awaitable[T | Answered]],
                      render: Callable[[T], Any], status: int = 201) -> None:
    """Run ``create`` at most once per (merchant, namespace, key) and answer the request.

    ``owner``: the merchant id the key belongs to (its own namespace), or a coroutine function
    finding (merchant id, namespace) - the public payment endpoint looks the order up, only
    when a key was sent, and keeps shoppers' keys apart from the merchant's. ``kind``: order,
    payment or refund. ``create(keyed)`` creates the object, with the id chosen by the key
    (None without a key); ``render`` turns it into the JSON body. Runs on the gateway's loop.

    Without the header the request is simply served. With it, the create first goes out with
    the key attached (``KeyedAnswer``): the shard writes the key, completed, with the answer in
    the transaction that creates the object, so a new key costs no round trip of its own and
    a crash leaves the key and its object both written or neither. Only when the key exists
    already (``KeyTaken``: a retry, a concurrent twin, an expired key, or a key an older
    version left in progress) is it claimed with its own statements below, Stripe's way.

    A refusal (4xx) raised by ``create`` is not stored and frees the key; any other failure of
    a claimed key keeps it in progress until its lease ends, because the object may have been
    created: the retry then finds it instead of making another.
    """
    key = handler.request.headers.get(HEADER)
    store: IdempotencyStore | None = handler.engine.idempotency
    if key is None or store is None:
        handler.send(status, render(cast(T, await create(None))))
        return
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise bad_request(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters")
    merchant_id, namespace = (owner, "") if isinstance(owner, str) else await owner()
    request = fingerprint(handler.request.method or "POST", handler.request.path, body,
                          store.card_key)
    answer = KeyedAnswer(merchant_id, namespace, key, request, status,
                         lambda created: dumps(render(created)), store.ttl)
    refusal: BaseException | None = None
    try:
        answered = await create(Keyed(new_id(PREFIXES[kind]), answer=answer))
    except KeyTaken:
        pass  # the key's row says what to answer: claim it below
    except Exception as exc:
        if to_error(exc).status >= 500:
            # The key is written with its object or not at all: a retry either finds both
            # (KeyTaken, then the stored answer) or creates afresh.
            raise
        # A refusal stands only if the key is new: a key used before answers as it did then
        # (a retry of a payment that paid its order replays that payment, not "already paid"),
        # and a key used with another request is 422 whatever this body holds.
        refusal = exc
    else:
        assert isinstance(answered, Answered)
        handler.send(answered.status, answered.body)
        return
    claim = await store.claim(merchant_id, key, request, kind, namespace)
    if refusal is not None and isinstance(claim, Claimed) and not claim.recovered:
        await _release(store, claim)
        raise refusal
    if isinstance(claim, KeyReused):
        raise ApiError(422, "IDEMPOTENCY_KEY_REUSED",
                       f"{HEADER} was already used with a different request")
    if isinstance(claim, KeyInUse):
        raise ApiError(409, "IDEMPOTENCY_KEY_IN_USE",
                       f"A request with this {HEADER} is still in progress; retry later",
                       {"Retry-After": str(claim.retry_after_s)})
    if isinstance(claim, Claimed):
        try:
            found = await handler.engine.created_object(merchant_id, claim.resource_id) \
                if claim.recovered else None
            # ``found`` is the very kind ``create`` makes: the id's prefix says so.
            created = cast(T, found) if found is not None else cast(T, await create(
                Keyed(claim.resource_id, may_exist=claim.recovered)))
        except BaseException as exc:
            if to_error(exc).status < 500:
                await _release(store, claim)
            raise
        stored = await store.complete(claim, status, dumps(render(created)))
    else:
        stored = claim
    handler.send(stored.status, stored.body,
                 {REPLAYED_HEADER: "true"} if stored.replayed else None)


async def _release(store: IdempotencyStore, claim: Claimed) -> None:
    try:
        await store.release(claim)
    except Exception as exc:  # noqa: BLE001 - the refusal still goes out; the lease expires
        log.warning("could not release idempotency key for %s: %s", claim.resource_id, exc)
