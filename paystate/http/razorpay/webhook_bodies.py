"""Paystate's events as the webhook bodies Razorpay sends, for endpoints of format "razorpay".

A merchant moving from Razorpay keeps the webhook handler it has: that handler reads Razorpay's
envelope (``payload.<entity>.entity``), switches on Razorpay's event names and checks the
``X-Razorpay-Signature`` of the body. So the bodies here carry the same ``/v1`` entities the
Razorpay-compatible API answers (``renderers``), and the event names are Razorpay's, not ours.

The events do not map one to one: Razorpay has no event for a payment created or waiting for the
bank, and a bank's yes is two Razorpay events (``payment.authorized`` and ``order.paid``), which
is why the answer is a list (empty for an event Razorpay does not send).

``account_id`` is made up from the merchant's id, because Paystate has no Razorpay account: "acc_"
and the first 14 hex digits of the merchant id without its dashes, the length of a Razorpay
account id. It is the same for every event of a merchant, so a handler that checks it against a
configured value keeps working; it is not an id any API answers to.

Pure (models and a clock reading in, dicts out; no I/O and nothing of the engine), so the
dispatcher can render a body once, when the event happens, and sign and store it byte for byte
like a native body, and the tests need no server.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...machines.models import Order, Payment
from . import renderers

_TEST_EVENT = "webhook.test"

# Paystate events that Razorpay has no event for: nothing is sent.
_NOT_SENT = frozenset({"payment.created", "payment.pending"})

# The order's payment count is not known here. Every order this renders has had a payment (the
# one the event is about), and Razorpay's ``attempts`` only has to be non-zero for that.
_ATTEMPTS = 1


def razorpay_events(event: str, obj: Any, related: Any | None, merchant_id: str,
                    at: int) -> list[tuple[str, dict[str, Any]]]:
    """The Razorpay events that Paystate's ``event`` becomes, each ``(name, body)``.

    ``obj``: the ``Payment`` or ``Refund`` as it is after the transition. ``related``: for a
    payment event its ``Order``, for a refund event its ``Payment``; None when not known. Both
    are None for ``webhook.test``. ``at``: the event's time, unix seconds.
    Raises ``ValueError`` for an event name it does not know, so that a new Paystate event is
    mapped on purpose rather than dropped without a word.
    """
    if event in _NOT_SENT:
        return []
    if event == _TEST_EVENT:
        return [_event(_TEST_EVENT, {}, merchant_id, at)]
    if event == "payment.success":
        authorized = _event("payment.authorized", {"payment": _entity(renderers.payment(obj))},
                            merchant_id, at)
        if related is None:
            # order.paid without its order would break a handler that reads payload.order.
            return [authorized]
        order = renderers.order(_paid_view(related, obj), _ATTEMPTS)
        # Each body renders its own payment dict: two bodies sharing one would change together.
        paid = {"payment": _entity(renderers.payment(obj)), "order": _entity(order)}
        return [authorized, _event("order.paid", paid, merchant_id, at)]
    if event in ("payment.captured", "payment.failed"):
        return [_event(event, {"payment": _entity(renderers.payment(obj))}, merchant_id, at)]
    if event in ("refund.created", "refund.processed", "refund.failed"):
        payload = {"refund": _entity(renderers.refund(obj))}
        if related is not None:
            payload["payment"] = _entity(renderers.payment(related))
        return [_event(event, payload, merchant_id, at)]
    raise ValueError(f"no Razorpay mapping for the Paystate event {event!r}")


def _paid_view(order: Order, payment: Payment) -> Order:
    """The order as paid by ``payment``. payment.success fires only when the payment pays
    its order, but before the order's own ``mark_paid`` in the same decision
    (``machines.order.on_bank_success``), so an order read at that moment may still say
    ``created``; order.paid must say ``paid``."""
    if order.state == "paid":
        return order
    return replace(order, state="paid", paid_payment_id=payment.id)


def _entity(body: dict[str, Any]) -> dict[str, Any]:
    return {"entity": body}


def _event(name: str, payload: dict[str, Any], merchant_id: str,
           at: int) -> tuple[str, dict[str, Any]]:
    # ``contains`` is the payload's keys, in order, so the two cannot disagree.
    return name, {"entity": "event", "account_id": _account_id(merchant_id), "event": name,
                  "contains": list(payload), "payload": payload, "created_at": at}


def _account_id(merchant_id: str) -> str:
    return "acc_" + merchant_id.replace("-", "")[:14]
