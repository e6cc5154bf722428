"""The code samples of ``/dashboard/docs``, filled in with the gateway's URL and the merchant's
API key (never its secret). Rendered with autoescape: the samples may hold ``<`` and quotes."""

from __future__ import annotations

from dataclasses import dataclass

from ..machines.instruments import TEST_INSTRUMENTS, TEST_SUCCESS


@dataclass(frozen=True)
class Snippet:
    test_id: str
    title: str
    language: str
    code: str


CREATE_ORDER_CURL = """\
# 1. Create an order (server side). The Idempotency-Key makes a retried request safe.
curl -s -X POST {base}/api/v1/orders \\
  -H 'X-Api-Key: {key}' -H "X-Api-Secret: $PAYSTATE_API_SECRET" \\
  -H 'Content-Type: application/json' -H 'Idempotency-Key: rcpt_1' \\
  -d '{{"amount": 50000, "currency": "INR", "receipt": "rcpt_1"}}'

# 2. Charge it (UPI here; cards send "method": "card" and a "card" object).
curl -s -X POST {base}/api/v1/payments \\
  -H 'X-Api-Key: {key}' -H "X-Api-Secret: $PAYSTATE_API_SECRET" \\
  -H 'Content-Type: application/json' \\
  -d '{{"order_id": "order_...", "method": "upi", "vpa": "shopper@okbank"}}'
# -> 201 {{"id": "pay_...", "status": "pending", ...}}; poll GET /api/v1/payments/pay_...
#    or wait for the payment.success / payment.failed webhook."""

CREATE_ORDER_PYTHON = """\
import os
import requests

API = "{base}/api/v1"
AUTH = {{"X-Api-Key": "{key}", "X-Api-Secret": os.environ["PAYSTATE_API_SECRET"]}}

order = requests.post(f"{{API}}/orders", headers={{**AUTH, "Idempotency-Key": "rcpt_1"}},
                      json={{"amount": 50000, "currency": "INR", "receipt": "rcpt_1"}}).json()
payment = requests.post(f"{{API}}/payments", headers=AUTH,
                        json={{"order_id": order["id"], "method": "upi",
                              "vpa": "shopper@okbank"}}).json()
print(payment["id"], payment["status"])  # pay_... pending"""

CREATE_ORDER_NODE = """\
// Node 18+ (global fetch)
const API = "{base}/api/v1";
const AUTH = {{"X-Api-Key": "{key}", "X-Api-Secret": process.env.PAYSTATE_API_SECRET,
              "Content-Type": "application/json"}};

const order = await (await fetch(`${{API}}/orders`, {{
  method: "POST", headers: {{...AUTH, "Idempotency-Key": "rcpt_1"}},
  body: JSON.stringify({{amount: 50000, currency: "INR", receipt: "rcpt_1"}}),
}})).json();
const payment = await (await fetch(`${{API}}/payments`, {{
  method: "POST", headers: AUTH,
  body: JSON.stringify({{order_id: order.id, method: "upi", vpa: "shopper@okbank"}}),
}})).json();
console.log(payment.id, payment.status); // pay_... pending"""

SDK_HTML = """\
<!-- On your checkout page: the order was created by your server (see above). -->
<script src="{base}/sdk/checkout.js"></script>
<button id="pay">Pay</button>
<script>
  document.getElementById("pay").addEventListener("click", function () {{
    new PaymentGateway({{
      key: "{key}",
      orderId: "order_...",
      onSuccess: function (result) {{ /* result.paymentId: confirm it on your server */ }},
      onFailure: function (error) {{ /* show a retry */ }},
      onClose: function () {{}}
    }}).open();
  }});
</script>
<!-- Or: PaymentGateway.open({{order_id: "order_...", onSuccess, onFailure, onClose}}) -->"""

WEBHOOK_HMAC_PYTHON = """\
# X-Webhook-Signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the webhook secret.
import hashlib
import hmac


def verify(raw_body: bytes, signature: str, secret: str) -> bool:
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)

# Flask:
# if not verify(request.get_data(), request.headers["X-Webhook-Signature"], WEBHOOK_SECRET):
#     abort(400)"""

WEBHOOK_HMAC_NODE = """\
// X-Webhook-Signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the webhook secret.
const crypto = require("crypto");

function verify(rawBody, signature, secret) {{
  const expected = crypto.createHmac("sha256", secret).update(rawBody).digest("hex");
  return typeof signature === "string" && signature.length === expected.length &&
    crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}}

// Express: keep the raw bytes, the signature covers them exactly.
// app.post("/webhooks", express.raw({{type: "application/json"}}), (req, res) => {{
//   if (!verify(req.body, req.get("X-Webhook-Signature"), process.env.WEBHOOK_SECRET))
//     return res.sendStatus(400);
//   const event = JSON.parse(req.body); res.sendStatus(200);
// }});"""

WEBHOOK_STANDARD_PYTHON = """\
# Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature): pip install standardwebhooks
from standardwebhooks.webhooks import Webhook

wh = Webhook(WEBHOOK_SECRET)  # the "whsec_..." secret as shown on the Webhooks page
# Raises WebhookVerificationError for a wrong signature or a timestamp older than 5 minutes.
event = wh.verify(request.get_data(), dict(request.headers))
# webhook-id is the same on every retry of a delivery: use it to drop duplicates."""

WEBHOOK_STANDARD_NODE = """\
// Standard Webhooks: npm install standardwebhooks
const {{ Webhook }} = require("standardwebhooks");

const wh = new Webhook(process.env.WEBHOOK_SECRET); // "whsec_..."
// app.post("/webhooks", express.raw({{type: "application/json"}}), (req, res) => {{
//   let event;
//   try {{ event = wh.verify(req.body, req.headers); }} catch (err) {{ return res.sendStatus(400); }}
//   res.sendStatus(200);
// }});"""


MODES_TEXT = """\
# Test keys (key_test_... / secret_test_...) make test-mode objects: no bank is involved, the
# instrument decides the outcome. Live keys (key_live_...) make live-mode objects, which go to
# the acquirer. Each mode sees only its own objects (the other mode's ids answer 404); the
# dashboard shows one mode at a time (the Test / Live switch at the top).
#
# Test instruments:
{instruments}
#
# Roll a secret (the old one keeps working for expires_in_hours, 0-168, default 24):
curl -s -X POST {{base}}/api/v1/merchant/keys/roll \\
  -H 'X-Api-Key: {{key}}' -H "X-Api-Secret: $PAYSTATE_API_SECRET" \\
  -H 'Content-Type: application/json' -d '{{{{"mode": "test", "expires_in_hours": 24}}}}'"""


def _modes_text() -> str:
    lines = [f"#   {i.method:4} {i.key:21} -> "
             + ("success" if i.outcome == TEST_SUCCESS else f"failed, {i.outcome}")
             for i in TEST_INSTRUMENTS]
    lines.append("#   any other valid VPA or card -> success")
    return MODES_TEXT.format(instruments="\n".join(lines))


def sections(base: str, api_key: str) -> list[tuple[str, str, str, list[Snippet]]]:
    """(section test id, title, lead text, snippets); each section's first snippet carries the
    section's ``code-snippet-*`` test id."""

    def fill(text: str) -> str:
        return text.format(base=base, key=api_key)

    return [
        ("section-create-order", "Create an order and a payment",
         "Server side, with your API key and secret (keep the secret out of browsers).",
         [Snippet("code-snippet-create-order", "curl", "shell", fill(CREATE_ORDER_CURL)),
          Snippet("code-snippet-create-order-python", "Python", "python",
                  fill(CREATE_ORDER_PYTHON)),
          Snippet("code-snippet-create-order-node", "Node", "javascript",
                  fill(CREATE_ORDER_NODE))]),
        ("section-modes", "Test and live modes",
         "Try everything with your test keys first: test instruments pick each outcome.",
         [Snippet("code-snippet-modes", "Modes, test instruments, key rolls", "shell",
                  fill(_modes_text()))]),
        ("section-sdk-integration", "Checkout SDK",
         "The hosted checkout opens in a modal over your page; only the API key is public.",
         [Snippet("code-snippet-sdk", "HTML", "html", fill(SDK_HTML))]),
        ("section-webhook-verification", "Verify webhooks",
         "Every delivery carries both signatures; check either one against the raw body.",
         [Snippet("code-snippet-webhook", "Python: X-Webhook-Signature", "python",
                  fill(WEBHOOK_HMAC_PYTHON)),
          Snippet("code-snippet-webhook-node", "Node: X-Webhook-Signature", "javascript",
                  fill(WEBHOOK_HMAC_NODE)),
          Snippet("code-snippet-webhook-standard-python", "Python: Standard Webhooks", "python",
                  fill(WEBHOOK_STANDARD_PYTHON)),
          Snippet("code-snippet-webhook-standard-node", "Node: Standard Webhooks", "javascript",
                  fill(WEBHOOK_STANDARD_NODE))]),
    ]
