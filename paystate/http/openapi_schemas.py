"""The JSON Schemas of ``/openapi.json`` (``components.schemas``): request bodies as the
handlers and ``inputs`` check them, responses as ``http/renderers.py`` and
``http/renderers.py`` render them.

OpenAPI 3.1, so these are JSON Schema 2020-12: a nullable field is ``"type": [T, "null"]``.
Response objects list every key the renderers write and forbid others
(``additionalProperties: false``), so a renderer that grows a field without this file failing the
conformance test is impossible. Request bodies forbid unknown keys too, as the handlers refuse
them (``inputs.known``: 400 naming the field).
"""

from __future__ import annotations

from typing import Any

from ..machines.endpoints import (
    ALL as ALL_EVENTS,
)
from ..machines.endpoints import (
    FORMATS,
    MAX_DESCRIPTION,
    MAX_ROLL_OVERLAP_HOURS,
    PAYSTATE_EVENTS,
    RAZORPAY_EVENTS,
)
from ..machines.instruments import VPA_PATTERN
from .inputs import (
    CURRENCIES,
    MAX_AMOUNT,
    MAX_NOTE_KEY,
    MAX_NOTE_TEXT,
    MAX_NOTES,
    MAX_SAFE_INTEGER,
    MAX_TEXT,
)
from .renderers import DELIVERY_STATES, DELIVERY_STATUSES

Schema = dict[str, Any]

ERROR_CODES = ("AUTHENTICATION_ERROR", "BAD_REQUEST_ERROR", "INVALID_VPA", "INVALID_CARD",
               "EXPIRED_CARD", "NOT_FOUND_ERROR", "IDEMPOTENCY_KEY_REUSED",
               "IDEMPOTENCY_KEY_IN_USE", "CONFLICT", "PAYLOAD_TOO_LARGE", "RATE_LIMITED",
               "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "ACCOUNT_SUSPENDED",
               # The admin API's: a viewer's changing call; a taken merchant email.
               "FORBIDDEN", "DUPLICATE_EMAIL")
#: A delivery's event: Paystate's words, or Razorpay's for a razorpay-format endpoint.
WEBHOOK_EVENTS = tuple(dict.fromkeys(PAYSTATE_EVENTS + RAZORPAY_EVENTS))
PAYMENT_STATUSES = ("pending", "success", "failed")


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or JSON null."""
    kind = schema.get("type")
    if isinstance(kind, str):
        widened = {**schema, "type": [kind, "null"]}
        if "enum" in schema:  # an enum also constrains null, so null must be listed
            widened["enum"] = [*schema["enum"], None]
        return widened
    return {"anyOf": [schema, {"type": "null"}]}


def string(max_length: int | None = None, **extra: Any) -> Schema:
    return {"type": "string", **({"maxLength": max_length} if max_length else {}), **extra}


def integer(minimum: int | None = None, maximum: int | None = None) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def const(value: str) -> Schema:
    return {"type": "string", "const": value}


def prefixed_id(prefix: str) -> Schema:
    return string(pattern=f"^{prefix}[A-Za-z0-9]{{16}}$")


UUID = string(format="uuid")
TIMESTAMP = string(format="date-time", description="ISO-8601 UTC with milliseconds")
AMOUNT = integer(0, MAX_AMOUNT) | {"description": "paise (minor units)"}
CURRENCY = enum(*CURRENCIES)


def response_object(properties: dict[str, Schema], description: str | None = None) -> Schema:
    """A response body: every property is always present, nothing else is."""
    schema: Schema = {"type": "object", "properties": properties,
                      "required": list(properties), "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def request_object(required: dict[str, Schema], optional: dict[str, Schema] | None = None,
                   description: str | None = None) -> Schema:
    """A request body: unknown keys are refused by the handlers (``inputs.known``)."""
    schema: Schema = {"type": "object", "properties": {**required, **(optional or {})},
                      "required": list(required), "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


# -- errors ----------------------------------------------------------------------------------

ERROR_DETAIL = {"type": "object", "properties": {
    "code": enum(*ERROR_CODES), "description": string(),
    "param": nullable(string(description="the request field at fault (card.number for a "
                                         "nested one), or null")),
    "request_id": string(pattern="^req_[A-Za-z0-9]{16}$",
                         description="the answer's X-Request-Id: quote it to support"),
    "detail": string(description="where description is a text the contract fixes for several "
                                 "cases: which one this is"),
    "refundable": integer(0, MAX_AMOUNT) | {"description": "paise a refund may still take"}},
    "required": ["code", "description", "param", "request_id"], "additionalProperties": False}
ERROR = response_object({"error": ERROR_DETAIL},
                        "Every error: the contract's envelope; never a stack trace.")

# -- orders ----------------------------------------------------------------------------------

NOTE_VALUE = {"anyOf": [string(MAX_NOTE_TEXT), integer(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
                        {"type": "boolean"}]}
NOTES = {"type": "object", "maxProperties": MAX_NOTES,
         "propertyNames": string(MAX_NOTE_KEY, minLength=1), "additionalProperties": NOTE_VALUE}

ORDER_CREATE = request_object(
    {"amount": integer(100, MAX_AMOUNT) | {"description": "paise; at least 100"}},
    {"currency": nullable(CURRENCY | {"default": "INR"}), "receipt": nullable(string(40)),
     "notes": nullable(NOTES)})

ORDER_STATUS = enum("created", "paid")
LIVEMODE = {"type": "boolean",
            "description": "the mode of the key that made it: true live, false test; "
                           "visible only to keys of the same mode"}
ORDER = response_object({
    "id": prefixed_id("order_"), "merchant_id": UUID, "amount": AMOUNT, "currency": CURRENCY,
    "receipt": nullable(string()), "notes": {"type": "object"}, "status": ORDER_STATUS,
    "livemode": LIVEMODE, "created_at": TIMESTAMP, "updated_at": TIMESTAMP})
ORDER_PUBLIC = response_object(
    {"id": prefixed_id("order_"), "amount": AMOUNT, "currency": CURRENCY,
     "status": ORDER_STATUS, "receipt": nullable(string()),
     "merchant": response_object({"name": string(),
                                  "logo_url": nullable(string(2048, format="uri"))})},
    "What the checkout page shows: the merchant's display name and logo, and the receipt "
    "(shown to the shopper instead of the order id); nothing else of the merchant.")

# -- payments --------------------------------------------------------------------------------

# An id as a client sends it in a body; an unknown one is a 404.
ID_REF = string(64, minLength=1)
# Expiry parts are integers or digit strings ("12", "2030"); a 2-digit year means 20YY.
EXPIRY_PART = {"anyOf": [integer(0, 9999), string(4, pattern="^[0-9]{1,4}$")]}
CARD = request_object(
    {"number": string(64, description="13-19 digits after removing spaces and dashes; Luhn"),
     "expiry_month": EXPIRY_PART, "expiry_year": EXPIRY_PART,
     "cvv": string(pattern="^[0-9]{3,4}$")},
    {"holder_name": nullable(string(MAX_TEXT))},
    "Never stored, logged or returned: only the network and last 4 digits are kept.")
# Optional: the amount comes from the order; a client that states it (the seed's do) must
# state the order's.
PAYMENT_AMOUNT = {"amount": nullable(integer(1, MAX_AMOUNT) | {
    "description": "paise; optional, and when given must equal the order's amount (else 400 "
                   "\"amount does not match order\")"}),
                  "currency": nullable(CURRENCY | {"description": "optional: the order's"})}
UPI_PAYMENT_CREATE = request_object(
    {"order_id": ID_REF, "method": const("upi"),
     "vpa": string(MAX_TEXT, pattern=VPA_PATTERN.pattern)}, PAYMENT_AMOUNT)
CARD_PAYMENT_CREATE = request_object(
    {"order_id": ID_REF, "method": const("card"), "card": ref("Card")}, PAYMENT_AMOUNT)
PAYMENT_CREATE = {"oneOf": [ref("UpiPaymentCreate"), ref("CardPaymentCreate")],
                  "discriminator": {"propertyName": "method",
                                    "mapping": {"upi": "#/components/schemas/UpiPaymentCreate",
                                                "card": "#/components/schemas/CardPaymentCreate"}}}


def payment(method: str, instrument: dict[str, Schema]) -> Schema:
    """The merchant's view of a payment made with ``method`` (``payment_json``)."""
    return response_object({
        "id": prefixed_id("pay_"), "order_id": prefixed_id("order_"), "amount": AMOUNT,
        "currency": CURRENCY, "method": const(method), **instrument,
        "status": enum(*PAYMENT_STATUSES), "captured": {"type": "boolean"},
        "amount_refunded": AMOUNT | {"description": "sum of processed refunds"},
        "error_code": nullable(string()), "error_description": nullable(string()),
        "livemode": LIVEMODE, "created_at": TIMESTAMP, "updated_at": TIMESTAMP})


UPI_PAYMENT = payment("upi", {"vpa": string()})
CARD_PAYMENT = payment("card", {
    "card_network": enum("visa", "mastercard", "amex", "rupay", "unknown"),
    "card_last4": string(pattern="^[0-9]{4}$")})
PAYMENT = {"oneOf": [ref("UpiPayment"), ref("CardPayment")]}
PAYMENT_PUBLIC = response_object({
    "id": prefixed_id("pay_"), "order_id": prefixed_id("order_"), "amount": AMOUNT,
    "currency": CURRENCY, "method": enum("upi", "card"), "status": enum(*PAYMENT_STATUSES),
    "error_code": nullable(string()), "error_description": nullable(string()),
    "created_at": TIMESTAMP}, "The checkout page's view: status polling, no instrument.")
CAPTURE = request_object({}, {"amount": nullable(integer(1, MAX_AMOUNT))},
                         "amount, when given, must equal the payment's amount.")

# -- refunds ---------------------------------------------------------------------------------

REFUND_FIELDS = {"amount": integer(1, MAX_AMOUNT) | {"description": "paise; at most what is "
                                                     "left after other refunds"}}
REFUND_OPTIONAL = {"reason": nullable(string(MAX_TEXT))}
REFUND_CREATE = request_object(REFUND_FIELDS, REFUND_OPTIONAL)
REFUND_CREATE_WITH_PAYMENT = request_object({"payment_id": ID_REF, **REFUND_FIELDS},
                                            REFUND_OPTIONAL)
REFUND = response_object({
    "id": prefixed_id("rfnd_"), "payment_id": prefixed_id("pay_"), "amount": AMOUNT,
    "reason": nullable(string()), "status": enum("pending", "processed", "failed"),
    "livemode": LIVEMODE, "created_at": TIMESTAMP, "processed_at": nullable(TIMESTAMP)})

TRANSITION = response_object({
    "from_state": nullable(string()), "to_state": string(), "trigger": string(),
    "at": TIMESTAMP, "data": {"type": "object"}},
    "One persisted state change; a list of them is oldest first.")

# -- webhooks and the merchant ---------------------------------------------------------------

DELIVERY_FIELDS: dict[str, Schema] = {
    "id": UUID, "event": enum(*WEBHOOK_EVENTS),
    "status": enum(*DELIVERY_STATUSES) | {
        "description": "pending: waiting for its first or next attempt (between retries too); "
                       "success: an attempt got a 2xx; failed: every attempt failed"},
    "state": enum(*DELIVERY_STATES) | {
        "description": "the delivery machine's own state; pending and retrying both show "
                       "as status pending"},
    "attempts": integer(0), "livemode": LIVEMODE,
    "endpoint_id": nullable(prefixed_id("we_")) | {
        "description": "the endpoint it goes to (null only for deliveries from before "
                       "endpoints whose merchant had removed its URL)"},
    "event_id": nullable(prefixed_id("evt_")) | {
        "description": "the event it carries (GET /api/v1/events/{id})"},
    "created_at": TIMESTAMP,
    "last_attempt_at": nullable(TIMESTAMP),
    "next_retry_at": nullable(TIMESTAMP), "response_code": nullable(integer())}
DELIVERY = response_object(DELIVERY_FIELDS)
DELIVERY_PAGE = response_object({"data": {"type": "array", "items": ref("WebhookDelivery")},
                                 "total": integer(0), "limit": integer(1, 100),
                                 "offset": integer(0)},
                                "Newest first.")
ATTEMPT = response_object({
    "attempt": integer(1), "at": TIMESTAMP, "response_code": nullable(integer()),
    "duration_ms": integer(0), "response_body": nullable(string(1000)),
    "error": nullable(string())})
WEBHOOK_PAYLOAD = {
    "type": "object",
    "properties": {"id": prefixed_id("evt_"), "event": enum(*WEBHOOK_EVENTS),
                   "timestamp": integer(0) | {"description": "unix seconds"},
                   "data": {"type": "object"}},
    "description": "The body that was signed and sent: {id, event, timestamp, data}, or "
                   "Razorpay's envelope {entity, account_id, event, contains, payload, "
                   "created_at} for a razorpay-format endpoint."}
ENDPOINT_FIELDS: dict[str, Schema] = {
    "id": prefixed_id("we_"), "url": string(2048),
    "enabled_events": {"type": "array", "items": enum(*WEBHOOK_EVENTS, ALL_EVENTS),
                       "minItems": 1},
    "description": nullable(string(MAX_DESCRIPTION)),
    "format": enum(*FORMATS), "status": enum("enabled", "disabled"),
    "disabled_reason": nullable(string()), "livemode": LIVEMODE,
    "default": {"type": "boolean", "description": "the one URL of PUT /api/v1/merchant/webhook"},
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP}
ENDPOINT_HEALTH = response_object({
    "success_rate": nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "deliveries_24h": integer(0), "last_response_code": nullable(integer()),
    "last_attempt_at": nullable(TIMESTAMP)},
    "Deliveries of the last 24 h that finished, and how many of them succeeded.")
ENDPOINT = response_object({**ENDPOINT_FIELDS, "health": ref("WebhookEndpointHealth")})
ENDPOINT_PLAIN = response_object(ENDPOINT_FIELDS)
ENDPOINT_WITH_SECRET = response_object({
    **ENDPOINT_FIELDS, "secret": string(description="whsec_ + base64; shown on create and roll"),
    "previous_secret_expires_at": nullable(TIMESTAMP | {
        "description": "until when the rolled secret signs beside the new one"})})
ENDPOINT_LIST = response_object({"data": {"type": "array", "items": ref("WebhookEndpoint")}})
ENDPOINT_DELETED = response_object({"id": prefixed_id("we_"),
                                    "deleted": {"type": "boolean", "const": True}})
EVENTS_HELP = ("Paystate's event names for a paystate-format endpoint, Razorpay's for a "
               "razorpay one; [\"*\"] for all")
ENDPOINT_CREATE = request_object(
    {"url": string(2048, format="uri"),
     "enabled_events": {"type": "array", "minItems": 1, "items": string(),
                        "description": EVENTS_HELP}},
    {"description": nullable(string(MAX_DESCRIPTION)),
     "format": enum(*FORMATS) | {"default": "paystate"}},
    "Unknown fields are refused (400).")
ENDPOINT_UPDATE = request_object(
    {}, {"url": string(2048, format="uri"),
         "enabled_events": {"type": "array", "minItems": 1, "items": string(),
                            "description": EVENTS_HELP},
         "description": nullable(string(MAX_DESCRIPTION)),
         "disabled": {"type": "boolean", "description": "false enables a disabled endpoint; "
                                                       "its kept deliveries resume"}},
    "Unknown fields are refused (400).")
ENDPOINT_ROLL = request_object({}, {"expires_in_hours": integer(0, MAX_ROLL_OVERLAP_HOURS) | {
    "default": 24, "description": "how long the old secret keeps signing; 0: not at all"}})
ENDPOINT_RECOVER = request_object({"since": string(format="date-time")})
RECOVERED = response_object({"recovered": integer(0)})
EVENT = response_object({
    "id": prefixed_id("evt_"), "type": enum(*PAYSTATE_EVENTS), "livemode": LIVEMODE,
    "created_at": TIMESTAMP, "data": {"type": "object"}})
EVENT_PAGE = response_object({"data": {"type": "array", "items": ref("Event")},
                              "has_more": {"type": "boolean"}}, "Newest first.")
DELIVERY_DETAIL = response_object({
    **DELIVERY_FIELDS, "merchant_id": UUID, "updated_at": TIMESTAMP,
    "payload": WEBHOOK_PAYLOAD,
    "attempt_log": {"type": "array", "items": ref("WebhookAttempt")}})
WEBHOOK_RETRY = response_object({"id": UUID, "status": const("pending"),
                                 "state": const("pending"),
                                 "message": const("Webhook retry scheduled")})
MERCHANT = response_object({
    "id": UUID, "name": string(), "email": string(),
    "api_key": string(description="the key of this request's mode"),
    "livemode": LIVEMODE | {"description": "the mode of the key this request used"},
    "webhook_url": nullable(string()), "webhook_secret": string(),
    "checkout_origins": {"type": "array", "items": string(255)},
    "logo_url": nullable(string(2048, format="uri")),
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP})
LOGO_URL = request_object(
    {"url": nullable(string(2048, format="uri",
                            description="https (http only for a loopback host under "
                                        "TEST_MODE); null or \"\" removes it"))},
    description="The logo the hosted checkout shows beside your name")
CHECKOUT_ORIGINS = request_object(
    {"origins": {"type": "array", "maxItems": 20, "items": string(
        255, description="a web origin: http(s)://host[:port], no path")}},
    description="Replaces the list; [] allows none. Outside TEST_MODE the embedded checkout "
                "opens only for a parent_origin listed here")
WEBHOOK_URL = request_object(
    {"url": nullable(string(2048, format="uri",
                            description="http(s); null removes it. Outside TEST_MODE and "
                                        "WEBHOOK_ALLOW_PRIVATE the host must resolve to "
                                        "public addresses"))})

KEY_ROLL = request_object(
    {"mode": enum("test", "live")},
    {"expires_in_hours": nullable(integer(0, 168) | {
        "default": 24, "description": "how long the old secret keeps working; 0: not at all"})},
    "A new secret for the key of that mode; the api_key stays.")
ROLLED_KEY = response_object({
    "api_key": string(), "api_secret": string(description="shown this once; stored hashed"),
    "previous_expires_at": nullable(TIMESTAMP | {
        "description": "until when the old secret works; null when the key was just issued"})})

# -- operations ------------------------------------------------------------------------------

HEALTH = response_object({
    "status": enum("healthy", "unhealthy"), "database": enum("connected", "disconnected"),
    "redis": enum("connected", "disconnected"), "worker": enum("running", "stopped", "unknown"),
    "timestamp": TIMESTAMP,
    "version": string(description="the running Paystate version (paystate --version)")})
JOBS_STATUS = response_object({
    "pending": integer(0), "processing": integer(0), "completed": integer(0),
    "failed": integer(0), "worker_status": enum("running", "stopped")},
    "Integers summed over all job streams; the worker status comes from a heartbeat.")
TEST_MERCHANT = response_object({"id": UUID, "email": string(), "api_key": string(),
                                 "seeded": {"type": "boolean", "const": True}})

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR, "OrderCreate": ORDER_CREATE, "Order": ORDER, "OrderPublic": ORDER_PUBLIC,
    "Card": CARD, "UpiPaymentCreate": UPI_PAYMENT_CREATE,
    "CardPaymentCreate": CARD_PAYMENT_CREATE, "PaymentCreate": PAYMENT_CREATE,
    "UpiPayment": UPI_PAYMENT, "CardPayment": CARD_PAYMENT, "Payment": PAYMENT,
    "PaymentPublic": PAYMENT_PUBLIC, "Capture": CAPTURE, "RefundCreate": REFUND_CREATE,
    "RefundCreateWithPayment": REFUND_CREATE_WITH_PAYMENT, "Refund": REFUND,
    "Transition": TRANSITION, "WebhookDelivery": DELIVERY, "WebhookDeliveryPage": DELIVERY_PAGE,
    "WebhookAttempt": ATTEMPT, "WebhookDeliveryDetail": DELIVERY_DETAIL,
    "WebhookRetry": WEBHOOK_RETRY, "Merchant": MERCHANT, "WebhookUrl": WEBHOOK_URL,
    "CheckoutOrigins": CHECKOUT_ORIGINS, "LogoUrl": LOGO_URL, "KeyRoll": KEY_ROLL, "RolledKey": ROLLED_KEY,
    "Health": HEALTH, "JobsStatus": JOBS_STATUS, "TestMerchant": TEST_MERCHANT,
    "WebhookEndpoint": ENDPOINT, "WebhookEndpointUpdated": ENDPOINT_PLAIN,
    "WebhookEndpointHealth": ENDPOINT_HEALTH, "WebhookEndpointWithSecret": ENDPOINT_WITH_SECRET,
    "WebhookEndpointList": ENDPOINT_LIST, "WebhookEndpointDeleted": ENDPOINT_DELETED,
    "WebhookEndpointCreate": ENDPOINT_CREATE, "WebhookEndpointUpdate": ENDPOINT_UPDATE,
    "WebhookEndpointRoll": ENDPOINT_ROLL, "WebhookEndpointRecover": ENDPOINT_RECOVER,
    "Recovered": RECOVERED, "Event": EVENT, "EventPage": EVENT_PAGE,
}

# Request bodies that succeed (given ids that exist), by schema name and example name.
EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "OrderCreate": {"order": {"amount": 50000, "currency": "INR", "receipt": "receipt#1",
                              "notes": {"customer": "Asha"}}},
    "PaymentCreate": {
        "upi": {"order_id": "order_NXhj3bEkV8kKDhWq", "method": "upi", "vpa": "asha@okbank"},
        "card": {"order_id": "order_NXhj3bEkV8kKDhWq", "method": "card",
                 "card": {"number": "4111 1111 1111 1111", "expiry_month": 12,
                          "expiry_year": 2035, "cvv": "123", "holder_name": "Asha Rao"}}},
    "Capture": {"capture": {"amount": 50000}},
    "RefundCreate": {"refund": {"amount": 10000, "reason": "Customer request"}},
    "RefundCreateWithPayment": {"refund": {"payment_id": "pay_H8sK2jLm9PqR4tVx",
                                           "amount": 10000, "reason": "Customer request"}},
    "WebhookUrl": {"set": {"url": "https://merchant.example.com/webhooks"},
                   "remove": {"url": None}},
    "CheckoutOrigins": {"shop": {"origins": ["https://shop.example", "https://staging.shop.example"]}},
    "KeyRoll": {"roll": {"mode": "test", "expires_in_hours": 24}},
    "WebhookEndpointCreate": {
        "fulfilment": {"url": "https://merchant.example.com/hooks/fulfil",
                       "enabled_events": ["payment.success"], "description": "fulfilment"},
        "razorpay": {"url": "https://merchant.example.com/hooks/razorpay",
                     "enabled_events": ["payment.authorized", "order.paid"],
                     "format": "razorpay"}},
    "WebhookEndpointUpdate": {"events": {"enabled_events": ["refund.created",
                                                            "refund.processed"]},
                              "enable": {"disabled": False}},
    "WebhookEndpointRoll": {"roll": {"expires_in_hours": 24}},
    "WebhookEndpointRecover": {"since": {"since": "2026-12-01T00:00:00Z"}},
}
