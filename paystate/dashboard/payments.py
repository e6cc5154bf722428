"""A payment's page and its two forms: capture, and refund (full or partial, with a reason).

Thin, as the API's handlers: capture is ``Engine.capture`` and a refund ``Engine.create_refund``
run through ``Engine.create_once``, so the machines decide (capturable, refundable, the amount)
exactly as for ``POST /api/v1/payments/{id}/capture`` and ``/refunds``. A refusal is decided
before anything is written: it is shown on the page (400, or 409/422 for a key's conflict) with
the form's values, and changes nothing.

Idempotency: the refund form carries a random key made when the page is rendered, the
engine's Idempotency-Key in a scope of its own (``dashboard``, per mode), so a double click or
a browser's re-POST makes one refund; the second request is answered with the first's refund.
A refused attempt frees its key (the engine stores successes only), so the corrected form,
sent with the same key, still refunds once.

Successes redirect back to the page with a notice key (post/redirect/get). Handlers run on
the front's event loop; ``post`` in ``base.py`` has checked the XSRF token before ``submit``.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..engine.bridge import (
    Conflict,
    KeyedRequest,
    KeyInUseError,
    KeyReusedError,
    Merchant,
    mode_namespace,
)
from ..http.errors import to_error
from ..machines.errors import DomainError
from ..machines.payment import refundable_amount
from .base import DashboardHandler
from .filters import paise

#: The refund form's longest reason (the API's limit).
MAX_REASON = 255
NOTICES = {"captured": "Payment captured.",
           "refunded": "Refund created. It is pending until the bank processes it."}
#: What the page says for a refusal about the form's key rather than the refund itself.
KEY_REFUSALS: dict[type[Exception], str] = {
    KeyReusedError: "This form was already sent with other values. Reload the page to make"
                    " another refund.",
    KeyInUseError: "This refund is still being made. Reload the page in a moment.",
    Conflict: "The payment changed meanwhile. Reload the page and try again.",
}


def new_form_key() -> str:
    """A refund form's idempotency key: 128 random bits, URL-safe."""
    return "dash_" + secrets.token_urlsafe(16)


class PaymentPageHandler(DashboardHandler):
    async def get(self, payment_id: str) -> None:
        await self.show(payment_id, notice=NOTICES.get(self.get_query_argument("notice", "")))

    async def show(self, payment_id: str, notice: str | None = None, error: str | None = None,
                   form: dict[str, str] | None = None) -> None:
        """The page; ``form``: the refused refund form's values (amount, reason, key)."""
        merchant = self.me()
        payment = await self.engine.payment(merchant, payment_id)
        refunds = await self.engine.refunds_of_payment(merchant, payment.id)
        refundable = refundable_amount(payment) if payment.state == "success" else 0
        shown = form or {"amount": _rupees(refundable), "reason": "", "key": new_form_key()}
        self.render_page("payment.html", active="transactions", payment=payment,
                         refunds=refunds, refundable=refundable,
                         capturable=payment.state == "success" and not payment.captured
                         and not refunds, notice=notice, error=error, form=shown)


def _rupees(amount: int) -> str:
    rupees, rest = divmod(amount, 100)
    return f"{rupees}.{rest:02d}"


def _owner(merchant: Merchant) -> Any:
    """The key's owner: the merchant, in the dashboard's own scope of its mode."""
    async def owner() -> tuple[str, str]:
        return merchant.id, mode_namespace(merchant, "dashboard")
    return owner


class CaptureFormHandler(PaymentPageHandler):
    async def submit(self, payment_id: str) -> None:
        try:
            await self.engine.capture(self.me(), payment_id, None)
        except DomainError as exc:
            self.set_status(400)
            await self.show(payment_id, error=exc.message)
            return
        self.redirect(f"/dashboard/payments/{payment_id}?notice=captured")


class RefundFormHandler(PaymentPageHandler):
    async def submit(self, payment_id: str) -> None:
        merchant = self.me()
        form = {"amount": self.get_body_argument("amount", "").strip()[:32],
                "reason": self.get_body_argument("reason", "").strip(),
                "key": self.get_body_argument("idempotency_key", "").strip()}
        try:
            amount = paise(form["amount"])
            if len(form["reason"]) > MAX_REASON:
                raise DomainError(f"The reason must be at most {MAX_REASON} characters")
            reason = form["reason"] or None
            await self.engine.create_once(
                key=form["key"] or None, owner=_owner(merchant),
                request=KeyedRequest("POST", self.request.path,
                                     {"amount": amount, "reason": reason}),
                kind="refund",
                create=lambda keyed: self.engine.create_refund(merchant, payment_id, amount,
                                                               reason, keyed),
                render=lambda refund: refund.id.encode(), status=201,
                is_refusal=lambda exc: to_error(exc).status < 500)
        except (DomainError, KeyReusedError, KeyInUseError, Conflict) as exc:
            status = to_error(exc).status
            self.set_status(status if status in (409, 422) else 400)
            message = exc.message if isinstance(exc, DomainError) else next(
                text for kind, text in KEY_REFUSALS.items() if isinstance(exc, kind))
            await self.show(payment_id, error=message, form=form)
            return
        self.redirect(f"/dashboard/payments/{payment_id}?notice=refunded")
