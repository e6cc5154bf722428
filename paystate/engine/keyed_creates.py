"""Creates made at most once per idempotency key: the protocol, end to end.

A front hands ``create_once`` the key it was sent (or None), who owns the key, the request's
method, path and body, the create itself and how to render its result; the engine names the
request (a fingerprint), writes the key with the object it creates, claims keys seen before,
and answers with the bytes to send: a first answer, or the stored one replayed. Keys, leases
and stored answers live in ``idempotency.py`` (``IdempotencyStore``). Runs on the gateway's
event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from ..machines.errors import ValidationError
from .commands import Answered, Keyed, KeyedAnswer
from .errors import KeyInUseError, KeyReusedError, KeyTaken
from .idempotency import MAX_KEY_LENGTH, PREFIXES, Claimed, IdempotencyStore, KeyInUse, KeyReused
from .ids import new_id
from .merchants import Merchant

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
T = TypeVar("T")
#: The merchant a key belongs to (its own namespace: "" in test mode, "live" in live mode, so
#: that one key sent with both modes' credentials makes two objects, one per mode), or a
#: coroutine function finding (merchant id, namespace): the public payment endpoint looks the
#: order up, only when a key was sent, and keeps shoppers' keys apart from the merchant's.
Owner = Merchant | Callable[[], Awaitable[tuple[str, str]]]


def mode_namespace(merchant: Merchant, namespace: str = "") -> str:
    """``namespace`` for this caller's mode: live-mode keys live apart from test-mode ones."""
    if not merchant.livemode:
        return namespace
    return f"{namespace}:live" if namespace else "live"


@dataclass(frozen=True)
class Reply:
    """What to send: ``body`` byte for byte with ``status``; ``replayed`` when it is the
    stored answer of an earlier request with the same key."""

    status: int
    body: bytes
    replayed: bool = False


@dataclass(frozen=True)
class KeyedRequest:
    """The request as a key remembers it: its method, path and parsed body."""

    method: str
    path: str
    body: dict[str, Any]


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


async def create_once(store: IdempotencyStore | None,
                      found: Callable[[str, str], Awaitable[Any]],
                      key: str | None, owner: Owner, request: KeyedRequest, kind: str,
                      create: Callable[[Keyed | None], Awaitable[T | Answered]],
                      render: Callable[[T], bytes], status: int,
                      is_refusal: Callable[[BaseException], bool]) -> Reply:
    """Run ``create`` at most once per (merchant, namespace, key) and say what to answer.

    ``kind``: order, payment or refund. ``create(keyed)`` creates the object, with the id the
    key chose (None without a key); ``render`` turns it into the body's bytes; ``found(merchant
    id, object id)`` reads an object an abandoned attempt may have created; ``is_refusal``
    tells a refusal (a 4xx, never stored) from a failure.

    Without a key the create is simply run. With one, the create first goes out with the key
    attached (``KeyedAnswer``): the shard writes the key, completed, with the answer in the
    transaction that creates the object, so a new key costs no round trip of its own and a
    crash leaves the key and its object both written or neither. Only when the key exists
    already (``KeyTaken``: a retry, a concurrent twin, an expired key, or a key an older
    version left in progress) is it claimed with its own statements, Stripe's way.

    A refusal raised by ``create`` is not stored and frees the key; any other failure of a
    claimed key keeps it in progress until its lease ends, because the object may have been
    created: the retry then finds it instead of making another. Raises ``KeyReusedError``
    (another request used the key) and ``KeyInUseError`` (it is still in progress).
    """
    if key is None or store is None:
        return Reply(status, render(cast(T, await create(None))))
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters")
    merchant_id, namespace = ((owner.id, mode_namespace(owner)) if isinstance(owner, Merchant)
                              else await owner())
    named = fingerprint(request.method, request.path, request.body, store.card_key)
    answer = KeyedAnswer(merchant_id, namespace, key, named, status,
                         lambda created: render(created), store.ttl)
    refusal: BaseException | None = None
    try:
        answered = await create(Keyed(new_id(PREFIXES[kind]), answer=answer))
    except KeyTaken:
        pass  # the key's row says what to answer: claim it below
    except Exception as exc:
        if not is_refusal(exc):
            # The key is written with its object or not at all: a retry either finds both
            # (KeyTaken, then the stored answer) or creates afresh.
            raise
        # A refusal stands only if the key is new: a key used before answers as it did then
        # (a retry of a payment that paid its order replays that payment, not "already paid"),
        # and a key used with another request is 422 whatever this body holds.
        refusal = exc
    else:
        assert isinstance(answered, Answered)
        return Reply(answered.status, answered.body)
    claim = await store.claim(merchant_id, key, named, kind, namespace)
    if refusal is not None and isinstance(claim, Claimed) and not claim.recovered:
        await _release(store, claim)
        raise refusal
    if isinstance(claim, KeyReused):
        raise KeyReusedError(f"{HEADER} was already used with a different request")
    if isinstance(claim, KeyInUse):
        raise KeyInUseError(f"A request with this {HEADER} is still in progress; retry later",
                            claim.retry_after_s)
    if isinstance(claim, Claimed):
        try:
            old = await found(merchant_id, claim.resource_id) if claim.recovered else None
            # ``old`` is the very kind ``create`` makes: the id's prefix says so.
            created = cast(T, old) if old is not None else cast(T, await create(
                Keyed(claim.resource_id, may_exist=claim.recovered)))
        except BaseException as exc:
            if is_refusal(exc):
                await _release(store, claim)
            raise
        stored = await store.complete(claim, status, render(created))
    else:
        stored = claim
    return Reply(stored.status, stored.body, stored.replayed)


async def _release(store: IdempotencyStore, claim: Claimed) -> None:
    try:
        await store.release(claim)
    except Exception as exc:  # noqa: BLE001 - the refusal still goes out; the lease expires
        log.warning("could not release idempotency key for %s: %s", claim.resource_id, exc)
