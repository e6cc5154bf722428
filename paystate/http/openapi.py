"""``GET /openapi.json``: the OpenAPI 3.1 document of every route in ``app.api_routes()``.

The document is data built here by hand, next to the handlers it describes; the schemas live in
``openapi_schemas.py``. ``tests/integration/test_openapi.py`` keeps the two honest: the set of
(path, method) here must equal what the Tornado app serves, the document must validate as
OpenAPI, and a fuzz run against a live gateway checks every response against it.
"""

from __future__ import annotations

import copy
from typing import Any

from ..engine.bridge import MAX_KEY_LENGTH
from .admin import openapi as admin_openapi
from .openapi_parts import (
    assemble,
    json_content,
    path_param,
    query_param,
    reply,
    with_request_id,
)
from .openapi_schemas import EXAMPLES, PAYMENT_STATUSES, SCHEMAS, Schema, integer, ref, string
from .razorpay import openapi as razorpay_openapi

OPENAPI_VERSION = "3.1.0"
AUTH: list[dict[str, list[str]]] = [{"ApiKey": [], "ApiSecret": []}]
PUBLIC: list[dict[str, list[str]]] = []

# The shared 4xx responses, by status: (component name, description).
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", ("Validation failed or the object is in the wrong state "
                         "(BAD_REQUEST_ERROR, INVALID_VPA, INVALID_CARD, EXPIRED_CARD)")),
    401: ("Unauthorized", "Missing or invalid API credentials (AUTHENTICATION_ERROR)"),
    403: ("AccountSuspended", "The merchant's account is suspended (ACCOUNT_SUSPENDED)"),
    404: ("NotFound", "Unknown id, or an id owned by another merchant (NOT_FOUND_ERROR)"),
    409: ("Conflict", ("A request with this Idempotency-Key is still in progress "
                       "(IDEMPOTENCY_KEY_IN_USE), or the object changed concurrently (CONFLICT); "
                       "retry after Retry-After seconds")),
    413: ("PayloadTooLarge", "The body exceeds the size limit (PAYLOAD_TOO_LARGE)"),
    422: ("IdempotencyKeyReused", ("The Idempotency-Key was used with a different request "
                                  "(IDEMPOTENCY_KEY_REUSED)")),
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                               "schema": integer(0)}}
SERVER_ERROR = ("ServerError", ("INTERNAL_ERROR, or SERVICE_UNAVAILABLE (503, with Retry-After) "
                                "when PostgreSQL or Redis is unreachable; never a stack trace"))


# -- building blocks -------------------------------------------------------------------------

def list_of(name: str) -> Schema:
    return {"type": "array", "items": ref(name)}


def page_params(default: int, maximum: int) -> list[dict[str, Any]]:
    return [query_param("limit", integer(1, maximum) | {"default": default},
                        f"Page size, 1 to {maximum}"),
            query_param("offset", integer(0, 10**9) | {"default": 0}, "Items to skip")]


def operation(op_id: str, tag: str, summary: str, ok: dict[int, dict[str, Any]], *,
              auth: bool = True, params: list[dict[str, Any]] | None = None,
              body: str | None = None, body_required: bool = True, idempotent: bool = False,
              errors: tuple[int, ...] = (), description: str | None = None) -> dict[str, Any]:
    """One operation. ``errors`` are the 4xx statuses the handler can answer besides those
    implied here: 401 and 403 with ``auth``, 400 and 413 with a ``body``, 400/409/422 with
    ``idempotent`` (the Idempotency-Key header)."""
    statuses = set(errors)
    if auth:
        statuses |= {401, 403}
    if body:
        statuses |= {400, 413}
    if idempotent:
        statuses |= {400, 409, 422}
    return assemble(op_id, tag, summary, ok, security=AUTH if auth else PUBLIC,
                    errors={status: ERRORS[status][0] for status in statuses},
                    server_error=SERVER_ERROR[0], params=params, body=body,
                    body_required=body_required, examples=EXAMPLES.get(body or ""),
                    idempotent=idempotent, description=description)


def created(description: str, schema_name: str) -> dict[int, dict[str, Any]]:
    """201 from a creating POST: a replay carries ``Idempotent-Replayed: true``."""
    return {201: reply(description, ref(schema_name),
                       {"Idempotent-Replayed": {"$ref": "#/components/headers/Replayed"}})}


def ok(description: str, schema: Schema) -> dict[int, dict[str, Any]]:
    return {200: reply(description, schema)}


# -- the paths -------------------------------------------------------------------------------

ORDER_ID = path_param("order_id", "An order id (order_...)")
PAYMENT_ID = path_param("payment_id", "A payment id (pay_...)")
REFUND_ID = path_param("refund_id", "A refund id (rfnd_...)")
DELIVERY_ID = path_param("delivery_id", "A webhook delivery id (a UUID)")
AS_OF = query_param("as_of", string(40) | {"format": "date-time"},
                    "The object as it stood at this ISO 8601 instant (with its offset), "
                    "rebuilt from its recorded transitions; before it existed: 404; "
                    "malformed: 400")


OPERATOR_ONLY = ("For operators: with METRICS_TOKEN set, send `Authorization: Bearer <token>`; "
                 "unset, only callers on the gateway's machine connecting directly are served. "
                 "Anyone else: 401 AUTHENTICATION_ERROR.")


def ops_paths() -> dict[str, dict[str, Any]]:
    return {
        "/health": {"get": operation(
            "getHealth", "operations", "PostgreSQL, Redis and worker health",
            {200: reply("Everything is up", ref("Health")),
             503: reply("A dependency is down; the failing part is named", ref("Health"))},
            auth=False)},
        "/openapi.json": {"get": operation(
            "getOpenApi", "operations", "This document",
            ok("OpenAPI 3.1 document", {"type": "object"}), auth=False)},
        "/metrics": {"get": operation(
            "getMetrics", "operations", "Prometheus metrics of every process under this supervisor",
            {200: {"description": "Prometheus text exposition format",
                   "content": {"text/plain": {"schema": {"type": "string"}}}}}, auth=False,
            errors=(401,), description=OPERATOR_ONLY)},
        "/api/v1/test/merchant": {"get": operation(
            "getTestMerchant", "operations", "The seeded test merchant",
            ok("The seeded test merchant", ref("TestMerchant")), auth=False, errors=(404,),
            description=("Only where the demo merchant is seeded (TEST_MODE=true or"
                         " SEED_TEST_MERCHANT=true, and `paystate seed` ran); elsewhere 404"
                         " NOT_FOUND_ERROR."))},
        "/api/v1/test/jobs/status": {"get": operation(
            "getJobsStatus", "operations", "Job counts and worker status",
            ok("Counts over all job streams", ref("JobsStatus")), auth=False,
            errors=(401,), description=OPERATOR_ONLY + " Open to anyone where TEST_MODE=true.")},
    }


def order_paths() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/orders": {"post": operation(
            "createOrder", "orders", "Create an order",
            created("The new order, status created", "Order"), body="OrderCreate",
            idempotent=True)},
        "/api/v1/orders/{order_id}": {"get": operation(
            "getOrder", "orders", "Read one of your orders", ok("The order", ref("Order")),
            params=[ORDER_ID], errors=(404,))},
        "/api/v1/orders/{order_id}/public": {"get": operation(
            "getOrderPublic", "orders", "An order as the checkout page sees it",
            ok("The order's public view", ref("OrderPublic")), auth=False, params=[ORDER_ID],
            errors=(404,))},
    }


def payment_paths() -> dict[str, dict[str, Any]]:
    total = {"X-Total-Count": {"description": "How many payments match, over all pages",
                               "required": True, "schema": integer(0)}}
    list_params = [*page_params(100, 1000),
                   query_param("status", {"type": "string", "enum": [*PAYMENT_STATUSES, ""]},
                               "Only payments in this status (empty: all)")]
    return {
        "/api/v1/payments": {
            "post": operation(
                "createPayment", "payments", "Pay an order by UPI or card",
                created("The new payment, status pending; processing continues in the "
                        "background", "Payment"),
                body="PaymentCreate", idempotent=True, errors=(404,),
                description="Checks run in order: Idempotency-Key, the order exists and is "
                            "yours (404), then the method's own checks and a stated amount "
                            "(the order's, or 400); a paid order takes no new payment (400)."),
            "get": operation(
                "listPayments", "payments", "Your payments, newest first",
                {200: reply("One page of payments", list_of("Payment"), total)},
                params=list_params, errors=(400,))},
        "/api/v1/payments/public": {"post": operation(
            "createPaymentPublic", "payments", "Pay from the checkout page (no credentials)",
            created("The new payment's public view", "PaymentPublic"), auth=False,
            body="PaymentCreate", idempotent=True, errors=(403, 404),
            description="The merchant is the order's; an Idempotency-Key is scoped to it. "
                        "403 ACCOUNT_SUSPENDED when the order's merchant is suspended.")},
        "/api/v1/payments/{payment_id}": {"get": operation(
            "getPayment", "payments", "Read one of your payments",
            ok("The payment", ref("Payment")), params=[PAYMENT_ID, AS_OF],
            errors=(400, 404))},
        "/api/v1/payments/{payment_id}/public": {"get": operation(
            "getPaymentPublic", "payments", "Status polling for the checkout page",
            ok("The payment's public view", ref("PaymentPublic")), auth=False,
            params=[PAYMENT_ID], errors=(404,))},
        "/api/v1/payments/{payment_id}/capture": {"post": operation(
            "capturePayment", "payments", "Capture a successful payment",
            ok("The payment, captured: true", ref("Payment")), params=[PAYMENT_ID],
            body="Capture", body_required=False, errors=(404, 409),
            description="Only a success payment not yet captured; else 400 \"Payment not in "
                        "capturable state\".")},
        "/api/v1/payments/{payment_id}/transitions": {"get": operation(
            "getPaymentTransitions", "payments", "The payment's state history, oldest first",
            ok("Persisted transitions", list_of("Transition")), params=[PAYMENT_ID],
            errors=(404,))},
    }


def refund_paths() -> dict[str, dict[str, Any]]:
    rules = ("The payment must be success (else 400 \"Payment not in refundable state\"); "
             "amount + pending + processed refunds may not exceed the payment amount "
             "(else 400 \"Refund amount exceeds available amount\").")
    return {
        "/api/v1/payments/{payment_id}/refunds": {
            "post": operation(
                "createPaymentRefund", "refunds", "Refund a payment",
                created("The new refund, status pending", "Refund"), params=[PAYMENT_ID],
                body="RefundCreate", idempotent=True, errors=(404,), description=rules),
            "get": operation(
                "listPaymentRefunds", "refunds", "The payment's refunds",
                ok("The refunds", list_of("Refund")), params=[PAYMENT_ID], errors=(404,))},
        "/api/v1/refunds": {"post": operation(
            "createRefund", "refunds", "Refund the payment named in the body",
            created("The new refund, status pending", "Refund"),
            body="RefundCreateWithPayment", idempotent=True, errors=(404,),
            description=rules)},
        "/api/v1/refunds/{refund_id}": {"get": operation(
            "getRefund", "refunds", "Read one of your refunds", ok("The refund", ref("Refund")),
            params=[REFUND_ID, AS_OF], errors=(400, 404))},
        "/api/v1/refunds/{refund_id}/transitions": {"get": operation(
            "getRefundTransitions", "refunds", "The refund's state history, oldest first",
            ok("Persisted transitions", list_of("Transition")), params=[REFUND_ID],
            errors=(404,))},
    }


def webhook_paths() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/webhooks": {"get": operation(
            "listWebhookDeliveries", "webhooks", "Your webhook deliveries, newest first",
            ok("One page of deliveries", ref("WebhookDeliveryPage")),
            params=[*page_params(10, 100), query_param(
                "endpoint_id", string(64), "Only the deliveries to this endpoint (we_...)")],
            errors=(400,))},
        "/api/v1/webhooks/{delivery_id}": {"get": operation(
            "getWebhookDelivery", "webhooks", "A delivery with its payload and attempts",
            ok("The delivery", ref("WebhookDeliveryDetail")), params=[DELIVERY_ID, AS_OF],
            errors=(400, 404))},
        "/api/v1/webhooks/{delivery_id}/retry": {"post": operation(
            "retryWebhookDelivery", "webhooks", "Retry now, with attempts reset to 0",
            ok("Retry scheduled", ref("WebhookRetry")), params=[DELIVERY_ID],
            errors=(404, 409))},
        "/api/v1/webhooks/{delivery_id}/transitions": {"get": operation(
            "getWebhookTransitions", "webhooks", "The delivery's state history, oldest first",
            ok("Persisted transitions", list_of("Transition")), params=[DELIVERY_ID],
            errors=(404,))},
        **endpoint_paths(),
        "/api/v1/merchant": {"get": operation(
            "getMerchant", "merchant", "Your profile and webhook settings",
            ok("The merchant", ref("Merchant")))},
        "/api/v1/merchant/webhook": {"put": operation(
            "setWebhookUrl", "merchant", "Set or remove (null) the webhook URL",
            ok("The merchant", ref("Merchant")), body="WebhookUrl")},
        "/api/v1/merchant/checkout_origins": {"put": operation(
            "setCheckoutOrigins", "merchant",
            "Set the web origins allowed to embed your checkout",
            ok("The merchant", ref("Merchant")), body="CheckoutOrigins")},
        "/api/v1/merchant/logo": {"put": operation(
            "setLogoUrl", "merchant", "Set or remove (null) the logo your checkout shows",
            ok("The merchant", ref("Merchant")), body="LogoUrl")},
        "/api/v1/merchant/webhook/secret": {"post": operation(
            "rotateWebhookSecret", "merchant", "Regenerate the webhook secret",
            ok("The merchant with its new secret", ref("Merchant")))},
        "/api/v1/merchant/keys/roll": {"post": operation(
            "rollKey", "merchant", "Roll the API secret of your test or live key",
            ok("The key with its new secret, shown once", ref("RolledKey")), body="KeyRoll",
            description="The new secret works at once; the old one until "
                        "previous_expires_at. Every gateway process sees the change within "
                        "2 seconds.")},
        "/api/v1/merchant/webhook/test": {"post": operation(
            "sendTestWebhook", "merchant", "Send a webhook.test delivery",
            ok("The delivery once its first attempt is recorded (or still pending after a "
               "few seconds)", ref("WebhookDeliveryDetail")), errors=(400, 409),
            description="400 when no webhook URL is configured.")},
    }


ENDPOINT_ID = path_param("endpoint_id", "A webhook endpoint id (we_...)")
EVENT_ID = path_param("event_id", "An event id (evt_...)")


def endpoint_paths() -> dict[str, dict[str, Any]]:
    one: dict[str, Any] = {"params": [ENDPOINT_ID], "errors": (404,)}
    return {
        "/api/v1/webhook_endpoints": {
            "get": operation(
                "listWebhookEndpoints", "webhooks", "Your endpoints of this mode, with health",
                ok("The endpoints, oldest first", ref("WebhookEndpointList"))),
            "post": operation(
                "createWebhookEndpoint", "webhooks", "Add an endpoint (at most 16 per mode)",
                {201: reply("The endpoint with its secret, shown this once",
                            ref("WebhookEndpointWithSecret"))},
                body="WebhookEndpointCreate",
                description="400 for an unknown event name (the answer names the known "
                            "ones), a malformed or private URL, or a 17th endpoint.")},
        "/api/v1/webhook_endpoints/{endpoint_id}": {
            "get": operation("getWebhookEndpoint", "webhooks", "One endpoint, with health",
                             ok("The endpoint", ref("WebhookEndpoint")), **one),
            "patch": operation(
                "updateWebhookEndpoint", "webhooks",
                "Change url, enabled_events, description; disable or enable",
                ok("The endpoint", ref("WebhookEndpointUpdated")), body="WebhookEndpointUpdate",
                **one),
            "delete": operation(
                "deleteWebhookEndpoint", "webhooks", "Delete: no new events go to it",
                ok("Deleted", ref("WebhookEndpointDeleted")), **one)},
        "/api/v1/webhook_endpoints/{endpoint_id}/secret/roll": {"post": operation(
            "rollWebhookEndpointSecret", "webhooks",
            "A new secret; the old one signs beside it until it expires",
            ok("The endpoint with its new secret", ref("WebhookEndpointWithSecret")),
            body="WebhookEndpointRoll", body_required=False, **one)},
        "/api/v1/webhook_endpoints/{endpoint_id}/recover": {"post": operation(
            "recoverWebhookEndpoint", "webhooks",
            "Send again every failed delivery created since a time",
            ok("How many were sent again", ref("Recovered")), body="WebhookEndpointRecover",
            **one)},
        "/api/v1/webhook_endpoints/{endpoint_id}/test": {"post": operation(
            "testWebhookEndpoint", "webhooks", "Send a webhook.test delivery to this endpoint",
            ok("The delivery once its first attempt is recorded (or still pending after a "
               "few seconds)", ref("WebhookDeliveryDetail")), params=[ENDPOINT_ID],
            errors=(404, 409))},
        "/api/v1/events": {"get": operation(
            "listEvents", "webhooks", "Your events of the last 30 days, newest first",
            ok("One page of events", ref("EventPage")),
            params=[query_param("limit", integer(1, 100) | {"default": 10}, "Page size"),
                    query_param("type", string(64), "Only events of this type"),
                    query_param("starting_after", string(64),
                                "An event id: the page after it (older events)")],
            errors=(400, 404))},
        "/api/v1/events/{event_id}": {"get": operation(
            "getEvent", "webhooks", "One event", ok("The event", ref("Event")),
            params=[EVENT_ID], errors=(404,))},
    }


def components() -> dict[str, Any]:
    error_responses = {name: with_request_id(
        {"description": description, "content": json_content(ref("Error"))})
        for name, description in [*ERRORS.values(), SERVER_ERROR]}
    for name in ("Conflict", SERVER_ERROR[0]):
        error_responses[name]["headers"].update(RETRY_AFTER)
    return {
        "schemas": SCHEMAS,
        "responses": error_responses,
        "parameters": {"IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "Repeat with the same body within 24 h: the first response again, "
                           "byte for byte, and nothing created; a different body: 422",
            "schema": string(MAX_KEY_LENGTH, minLength=1)}},
        "headers": {"Replayed": {"description": "Present (true) on a replayed response",
                                 "schema": {"type": "string", "const": "true"}},
                    "RequestId": {"description": "This request's id (req_ + 16 characters), "
                                                 "also in the access log and in error bodies",
                                  "schema": {"type": "string",
                                             "pattern": "^req_[A-Za-z0-9]{16}$"}}},
        "securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "ApiSecret": {"type": "apiKey", "in": "header", "name": "X-Api-Secret"}},
    }


def openapi_document(server_url: str | None = None, razorpay: bool = True) -> dict[str, Any]:
    """The whole document, a fresh copy each call (callers may change it). ``server_url``:
    the base URL to list under ``servers``, e.g. the URL the request came in on.
    ``razorpay``: include the ``/v1`` dialect (``RAZORPAY_FRONT``)."""
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Paystate", "version": "1",
                 "description": "Payment gateway API. Money is an integer of paise; "
                                "timestamps are ISO-8601 UTC. Errors are "
                                "{\"error\": {\"code\", \"description\", \"param\", "
                                "\"request_id\"}}. The "
                                "operations tagged razorpay are the Razorpay-compatible "
                                "dialect at /v1: Basic auth, unix-second timestamps and "
                                "Razorpay's error envelope."},
        "security": AUTH,
        "tags": [{"name": name} for name in ("orders", "payments", "refunds", "webhooks",
                                             "merchant", "operations")],
        "paths": {**ops_paths(), **order_paths(), **payment_paths(), **refund_paths(),
                  **webhook_paths(), **admin_openapi.paths()},
        "components": components(),
    }
    # The operators' admin API (Bearer operator token).
    doc["tags"].append({"name": admin_openapi.TAG,
                        "description": "The operators' admin API (/admin/v1)"})
    for part, entries in admin_openapi.components().items():
        doc["components"][part] = {**doc["components"][part], **entries}
    if razorpay:
        doc["tags"].append({"name": razorpay_openapi.TAG,
                            "description": "Razorpay-compatible dialect (/v1)"})
        doc["paths"].update(razorpay_openapi.paths())
        for part, entries in razorpay_openapi.components().items():
            doc["components"][part] = {**doc["components"][part], **entries}
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return copy.deepcopy(doc)
