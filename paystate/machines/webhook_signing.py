"""Webhook bodies and signatures: pure functions, the "prepare" step of a delivery.

A body is serialised once, when the delivery is created, and the stored text is what every
attempt sends and signs. Two signatures travel with it:

- ``X-Webhook-Signature``: lowercase hex HMAC-SHA256 of the body, keyed with the UTF-8 bytes of
  the merchant's whole ``webhook_secret`` string (``whsec_`` prefix included). The same value
  also travels as ``X-Signature`` (the header the seed's README named, which receivers written
  for it check) and ``X-Razorpay-Signature`` (what the Razorpay clients check).
- Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``):
  ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``, keyed with the bytes the Standard
  Webhooks reference verifiers derive from the secret: strip ``whsec_`` and base64-decode the
  rest leniently (characters outside the base64 alphabet are skipped, missing padding added).
  New secrets (``whsec_`` + base64 of 24 random bytes) decode exactly. A legacy secret such as
  the seeded ``whsec_test_abc123`` still decodes under that rule (``test_abc123`` ->
  ``testabc123`` -> 7 bytes), so the unmodified verifiers accept it too; only when the rest
  cannot be decoded at all (e.g. a length of 4n+1 base64 characters) or decodes to nothing are
  the UTF-8 bytes of the part after ``whsec_`` used - and no reference verifier can check such
  a secret, so merchants should regenerate it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_PREFIX = "whsec_"


def serialise_body(event: str, timestamp: int, data: Mapping[str, Any],
                   event_id: str | None = None) -> str:
    """The compact JSON body ``{"id", "event", "timestamp", "data"}`` (``id`` the event's
    ``evt_`` id, the same on every endpoint and retry; absent only for events from before ids);
    ASCII-only (non-ASCII text is escaped), so the stored text and the bytes sent are the same
    in any encoding."""
    body: dict[str, Any] = {"id": event_id} if event_id else {}
    body.update(event=event, timestamp=timestamp, data=data)
    return json.dumps(body, separators=(",", ":"))


def serialise(body: Mapping[str, Any]) -> str:
    """Any other body (a Razorpay-format event), serialised the same compact, ASCII-only way."""
    return json.dumps(body, separators=(",", ":"))


def hex_signature(secret: str, body: bytes) -> str:
    """``X-Webhook-Signature``: hex HMAC-SHA256 of the exact body with the whole secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature (see the module docstring)."""
    rest = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(rest + "==")
    except (binascii.Error, ValueError):
        key = b""
    return key or rest.encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes,
                   also: Sequence[str] = ()) -> dict[str, str]:
    """Every header of one attempt. ``msg_id`` is the delivery id (the same on every retry);
    ``timestamp`` is the attempt's own time in unix seconds. ``also``: secrets rolled away
    whose overlap has not ended; ``webhook-signature`` then carries one signature per secret,
    the current one first, space separated, as Standard Webhooks allows, so a receiver that
    still holds the old secret and one that has the new one both verify. The hex headers carry
    the current secret's only."""
    hex_digest = hex_signature(secret, body)
    standard = " ".join(standard_signature(s, msg_id, timestamp, body)
                        for s in (secret, *also))
    return {
        "Content-Type": "application/json",
        "X-Webhook-Signature": hex_digest,
        "X-Signature": hex_digest,  # the seed README's name for it
        "X-Razorpay-Signature": hex_digest,  # the Razorpay clients' check
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
    }


def verify_hex_signature(secret: str, body: bytes, signature: str) -> bool:
    """What a merchant's receiver does with ``X-Webhook-Signature`` (constant time)."""
    return hmac.compare_digest(hex_signature(secret, body), signature.strip().lower())
