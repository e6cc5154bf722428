"""The webhook receiver of ``bench/e2e.py``, a process of its own: verifies both signatures of
every delivery with its endpoint's secret (the hex HMAC header and the Standard Webhooks one,
with the unmodified ``standardwebhooks`` package), answers 200 at once, counts deliveries per
event and notes when each payment's final event (payment.success or payment.failed) arrived.

GET /stats answers ``{"received", "bad_signatures", "duplicates", "per_event": {event: count},
"final": {payment id: unix time of arrival}}``. Usage: python bench/receiver.py PORT
ENDPOINT_SECRET [both|hex]

``hex`` checks the hex HMAC header only: the reference gateway (``make bench-reference``) sends
no Standard Webhooks headers, so there a duplicate is a second delivery of the same event for
the same payment instead of a repeated ``webhook-id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from collections import Counter

from aiohttp import web
from standardwebhooks import Webhook


def main() -> None:
    port, secret = int(sys.argv[1]), sys.argv[2]
    # A Standard Webhooks secret is base64; the reference's is not one, so only build it here.
    standard = Webhook(secret) if (sys.argv[3] if len(sys.argv) > 3 else "both") == "both" \
        else None
    seen: set[str] = set()
    stats = {"received": 0, "bad_signatures": 0, "duplicates": 0}
    per_event: Counter[str] = Counter()
    final: dict[str, float] = {}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        at = time.time()
        stats["received"] += 1
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, request.headers.get("X-Webhook-Signature", ""))
        if standard is not None:
            try:
                standard.verify(body, dict(request.headers))
            except Exception:  # noqa: BLE001 - counted, not fatal
                ok = False
        if not ok:
            stats["bad_signatures"] += 1
        event = json.loads(body)
        webhook_id = request.headers.get("webhook-id") or \
            f"{event['event']}:{event['data'].get('payment', {}).get('id')}"
        if webhook_id in seen:
            stats["duplicates"] += 1
        seen.add(webhook_id)
        per_event[event["event"]] += 1
        if event["event"] in ("payment.success", "payment.failed"):
            final.setdefault(event["data"]["payment"]["id"], at)
        return web.Response(text="ok")

    async def report(request: web.Request) -> web.Response:
        return web.json_response({**stats, "per_event": per_event, "final": final})

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", report)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
