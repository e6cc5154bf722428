"""The ``/v1`` dialect in ``/openapi.json``: its operations (tag ``razorpay``), schemas
(``Razorpay*``), error responses and the HTTP Basic security scheme. ``http/openapi.py``
merges them into the one document; ``tests/integration/test_openapi.py`` checks them against
the routes and fuzzes them like the native operations."""

from __future__ import annotations

from typing import Any

from ...machines.instruments import VPA_PATTERN
from ..inputs import MAX_AMOUNT, MAX_TEXT
from ..openapi_parts import assemble, json_content, path_param, query_param, reply
from ..openapi_schemas import (
    AMOUNT,
    CURRENCY,
    EXPIRY_PART,
    ID_REF,
    NOTES,
    Schema,
    const,
    enum,
    integer,
    nullable,
    prefixed_id,
    ref,
    response_object,
    string,
)
from .base import MAX_COUNT, MAX_UNIX

TAG = "razorpay"
SECURITY: list[dict[str, list[str]]] = [{"RazorpayBasic": []}]
UNIX = integer(0) | {"description": "unix seconds"}


def strict(required: dict[str, Schema], optional: dict[str, Schema] | None = None,
           description: str | None = None) -> Schema:
    """A request body of this dialect: other keys are refused (400), as Razorpay does."""
    schema: Schema = {"type": "object", "properties": {**required, **(optional or {})},
                      "required": list(required), "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def collection(item: str) -> Schema:
    return response_object({"entity": const("collection"), "count": integer(0, MAX_COUNT),
                            "items": {"type": "array", "items": ref(item)}},
                           "Newest first.")


ERROR = response_object({"error": response_object({
    "code": enum("BAD_REQUEST_ERROR", "SERVER_ERROR"), "description": string(),
    "source": string(), "step": string(), "reason": string(),
    "metadata": {"type": "object"}, "field": nullable(string())})},
    "Razorpay's error envelope: BAD_REQUEST_ERROR for every 4xx, SERVER_ERROR for 5xx.")

ORDER = response_object({
    "id": prefixed_id("order_"), "entity": const("order"), "amount": AMOUNT,
    "amount_paid": AMOUNT, "amount_due": AMOUNT, "currency": CURRENCY,
    "receipt": nullable(string(40)), "status": enum("created", "attempted", "paid"),
    "attempts": integer(0), "notes": {"type": "object"}, "created_at": UNIX})
ORDER_CREATE = strict(
    {"amount": integer(100, MAX_AMOUNT) | {"description": "paise; at least 100"}},
    {"currency": nullable(CURRENCY), "receipt": nullable(string(40)), "notes": nullable(NOTES),
     "partial_payment": {"type": "boolean", "const": False},
     "payment_capture": {"anyOf": [{"type": "boolean", "const": False}, integer(0, 0)],
                         "description": "automatic capture is not offered: false or 0"}})

PAYMENT = response_object({
    "id": prefixed_id("pay_"), "entity": const("payment"), "amount": AMOUNT,
    "currency": CURRENCY,
    "status": enum("created", "authorized", "captured", "refunded", "failed"),
    "order_id": prefixed_id("order_"), "method": enum("upi", "card"),
    "captured": {"type": "boolean"},
    "amount_refunded": AMOUNT | {"description": "sum of processed refunds"},
    "refund_status": nullable(enum("partial", "full")), "vpa": nullable(string()),
    "email": {"type": "null", "description": "accepted on create, not stored"},
    "contact": {"type": "null", "description": "accepted on create, not stored"},
    "error_code": nullable(string()), "error_description": nullable(string()),
    "created_at": UNIX})
UPI = strict({}, {"flow": const("collect"),
                  "vpa": string(MAX_TEXT, pattern=VPA_PATTERN.pattern),
                  "expiry_time": {"anyOf": [integer(0, 9999), string(4, pattern="^[0-9]{1,4}$")],
                                  "description": "minutes"}})
CARD = strict({"number": string(64), "expiry_month": EXPIRY_PART, "expiry_year": EXPIRY_PART,
               "cvv": string(pattern="^[0-9]{3,4}$")}, {"name": nullable(string(MAX_TEXT))},
              "Never stored, logged or returned: only the network and last 4 digits are kept.")
CUSTOMER: dict[str, Schema] = {
    name: nullable(string(1024 if name == "user_agent" else MAX_TEXT))
    for name in ("email", "contact", "description", "ip", "referer", "user_agent")}
S2S_BASE = {"amount": integer(1, MAX_AMOUNT) | {"description": "must equal the order's"},
            "order_id": ID_REF}
UPI_CREATE = strict({**S2S_BASE, "method": const("upi")},
                    {"currency": nullable(CURRENCY), "upi": UPI,
                     "vpa": string(MAX_TEXT, pattern=VPA_PATTERN.pattern),
                     "notes": nullable(NOTES), **CUSTOMER})
JSON_CREATE = strict({**S2S_BASE, "method": enum("upi", "card")},
                     {"currency": nullable(CURRENCY), "upi": UPI,
                      "vpa": string(MAX_TEXT, pattern=VPA_PATTERN.pattern), "card": CARD,
                      "notes": nullable(NOTES), **CUSTOMER})
CREATED = response_object({"razorpay_payment_id": prefixed_id("pay_")})
CREATED_JSON = response_object({"razorpay_payment_id": prefixed_id("pay_"),
                                "next": {"type": "array", "maxItems": 0}},
                               "No redirect or OTP step: the payment settles by itself.")
CAPTURE = strict({"amount": integer(1, MAX_AMOUNT) | {"description": "the payment's amount"}},
                 {"currency": nullable(CURRENCY)})

REFUND = response_object({
    "id": prefixed_id("rfnd_"), "entity": const("refund"), "amount": AMOUNT,
    "currency": CURRENCY, "payment_id": prefixed_id("pay_"),
    "status": enum("pending", "processed", "failed"),
    "notes": {"type": "object", "description": "accepted on create, not stored"},
    "created_at": UNIX})
REFUND_OPTIONAL: dict[str, Schema] = {
    "amount": nullable(integer(1, MAX_AMOUNT) | {"description": "absent: the whole rest"}),
    "notes": nullable(NOTES), "speed": nullable(const("normal"))}
REFUND_CREATE = strict({}, REFUND_OPTIONAL)
REFUND_CREATE_WITH_PAYMENT = strict({"payment_id": ID_REF}, REFUND_OPTIONAL)

SCHEMAS: dict[str, Schema] = {
    "RazorpayError": ERROR, "RazorpayOrder": ORDER, "RazorpayOrderCreate": ORDER_CREATE,
    "RazorpayOrderCollection": collection("RazorpayOrder"), "RazorpayPayment": PAYMENT,
    "RazorpayPaymentCollection": collection("RazorpayPayment"),
    "RazorpayUpiCreate": UPI_CREATE, "RazorpayJsonCreate": JSON_CREATE,
    "RazorpayPaymentCreated": CREATED, "RazorpayPaymentCreatedJson": CREATED_JSON,
    "RazorpayCapture": CAPTURE, "RazorpayRefund": REFUND,
    "RazorpayRefundCollection": collection("RazorpayRefund"),
    "RazorpayRefundCreate": REFUND_CREATE,
    "RazorpayRefundCreateWithPayment": REFUND_CREATE_WITH_PAYMENT,
}

UPI_EXAMPLE = {"amount": 50000, "currency": "INR", "order_id": "order_NXhj3bEkV8kKDhWq",
               "method": "upi", "email": "asha@example.com", "contact": "9000090000",
               "upi": {"flow": "collect", "vpa": "asha@okbank", "expiry_time": "5"}}
EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "RazorpayOrderCreate": {"order": {"amount": 50000, "currency": "INR",
                                      "receipt": "receipt#1", "notes": {"customer": "Asha"}}},
    "RazorpayUpiCreate": {"upi": UPI_EXAMPLE},
    "RazorpayJsonCreate": {
        "upi": UPI_EXAMPLE,
        "card": {"amount": 50000, "currency": "INR", "order_id": "order_NXhj3bEkV8kKDhWq",
                 "method": "card", "card": {"number": "4111 1111 1111 1111", "name": "Asha Rao",
                                            "expiry_month": "12", "expiry_year": "2035",
                                            "cvv": "123"}}},
    "RazorpayCapture": {"capture": {"amount": 50000, "currency": "INR"}},
    "RazorpayRefundCreate": {"part": {"amount": 10000, "notes": {"why": "damaged"}},
                             "rest": {}},
    "RazorpayRefundCreateWithPayment": {"refund": {"payment_id": "pay_H8sK2jLm9PqR4tVx",
                                                   "amount": 10000}},
}

# Error responses by status: (component name, description).
ERRORS: dict[int, tuple[str, str]] = {
    400: ("RazorpayBadRequest", ("Validation, wrong state, an unknown id (\"The id provided "
                                 "does not exist\") or an unsupported option")),
    401: ("RazorpayUnauthorized", ("Missing or wrong Basic credentials (\"Authentication "
                                   "failed\")")),
    403: ("RazorpaySuspended", ("The account is suspended (\"This account is suspended\", "
                                "reason account_suspended)")),
    409: ("RazorpayConflict", ("The Idempotency-Key is in use, or the object changed "
                               "concurrently; retry after Retry-After seconds")),
    413: ("RazorpayPayloadTooLarge", "The body exceeds the size limit"),
    422: ("RazorpayKeyReused", "The Idempotency-Key was used with a different request"),
}
SERVER = ("RazorpayServerError", "SERVER_ERROR; never a stack trace")


ORDER_ID = path_param("order_id", "An order id (order_...); unknown: 400")
PAYMENT_ID = path_param("payment_id", "A payment id (pay_...); unknown: 400")
REFUND_ID = path_param("refund_id", "A refund id (rfnd_...); unknown: 400")
WINDOW = [query_param("count", integer(1, MAX_COUNT) | {"default": 10}, "Page size"),
          query_param("skip", integer(0, 10**9) | {"default": 0}, "Items to skip"),
          query_param("from", integer(0, MAX_UNIX), "Created at or after (unix seconds)"),
          query_param("to", integer(0, MAX_UNIX), "Created at or before (unix seconds)")]
AS_OF = query_param("as_of", integer(0, MAX_UNIX),
                    "The object as it stood at this instant (unix seconds), rebuilt from its "
                    "recorded transitions; before it existed: 400 (Razorpay's unknown id)")


def _op(op_id: str, summary: str, schema: str, *, params: list[dict[str, Any]] | None = None,
        body: str | None = None, idempotent: bool = False,
        description: str | None = None) -> dict[str, Any]:
    """One operation: 200 with ``schema``; 400, 401 and 403 always; 413 with a body; 409 and 422
    with an Idempotency-Key (a replay carries ``Idempotent-Replayed: true``)."""
    statuses = {400, 401, 403} | ({413} if body else set()) | ({409, 422} if idempotent else set())
    headers = {"Idempotent-Replayed": {"$ref": "#/components/headers/Replayed"}} \
        if idempotent else None
    return assemble(op_id, TAG, summary, {200: reply("OK", ref(schema), headers)},
                    security=SECURITY, errors={s: ERRORS[s][0] for s in statuses},
                    server_error=SERVER[0], params=params, body=body,
                    examples=EXAMPLES.get(body or ""), idempotent=idempotent,
                    description=description)


def paths() -> dict[str, dict[str, Any]]:
    refund_rules = ("The payment must be authorized or captured; the amount may not exceed "
                    "what is left after other refunds. Without amount: all that is left.")
    return {
        "/v1/orders": {
            "post": _op("rzpCreateOrder", "Create an order", "RazorpayOrder",
                        body="RazorpayOrderCreate", idempotent=True),
            "get": _op("rzpListOrders", "Your orders", "RazorpayOrderCollection",
                       params=[*WINDOW, query_param("receipt", string(40),
                                                   "Only orders with this receipt")])},
        "/v1/orders/{order_id}": {"get": _op("rzpFetchOrder", "Fetch an order",
                                             "RazorpayOrder", params=[ORDER_ID])},
        "/v1/orders/{order_id}/payments": {"get": _op(
            "rzpOrderPayments", "An order's payments", "RazorpayPaymentCollection",
            params=[ORDER_ID, *WINDOW])},
        "/v1/payments/create/upi": {"post": _op(
            "rzpCreateUpiPayment", "Server-to-server UPI collect payment",
            "RazorpayPaymentCreated", body="RazorpayUpiCreate", idempotent=True,
            description="Status created at once; poll the payment until authorized or "
                        "failed.")},
        "/v1/payments/create/json": {"post": _op(
            "rzpCreateJsonPayment", "Server-to-server UPI or card payment",
            "RazorpayPaymentCreatedJson", body="RazorpayJsonCreate", idempotent=True)},
        "/v1/payments": {"get": _op("rzpListPayments", "Your payments",
                                    "RazorpayPaymentCollection", params=WINDOW)},
        "/v1/payments/{payment_id}": {"get": _op("rzpFetchPayment", "Fetch a payment",
                                                 "RazorpayPayment", params=[PAYMENT_ID, AS_OF])},
        "/v1/payments/{payment_id}/capture": {"post": _op(
            "rzpCapturePayment", "Capture an authorized payment", "RazorpayPayment",
            params=[PAYMENT_ID], body="RazorpayCapture",
            description="amount must equal the payment's.")},
        "/v1/payments/{payment_id}/refund": {"post": _op(
            "rzpRefundPayment", "Refund a payment", "RazorpayRefund", params=[PAYMENT_ID],
            body="RazorpayRefundCreate", idempotent=True, description=refund_rules)},
        "/v1/payments/{payment_id}/refunds": {"get": _op(
            "rzpPaymentRefunds", "A payment's refunds", "RazorpayRefundCollection",
            params=[PAYMENT_ID, *WINDOW])},
        "/v1/payments/{payment_id}/refunds/{refund_id}": {"get": _op(
            "rzpFetchPaymentRefund", "Fetch one refund of a payment", "RazorpayRefund",
            params=[PAYMENT_ID, REFUND_ID, AS_OF])},
        "/v1/refunds": {
            "post": _op("rzpCreateRefund", "Refund the payment named in the body",
                        "RazorpayRefund", body="RazorpayRefundCreateWithPayment",
                        idempotent=True, description=refund_rules),
            "get": _op("rzpListRefunds", "Your refunds", "RazorpayRefundCollection",
                       params=WINDOW)},
        "/v1/refunds/{refund_id}": {"get": _op("rzpFetchRefund", "Fetch a refund",
                                               "RazorpayRefund", params=[REFUND_ID, AS_OF])},
    }


def components() -> dict[str, Any]:
    responses = {name: {"description": description,
                        "content": json_content(ref("RazorpayError"))}
                 for name, description in [*ERRORS.values(), SERVER]}
    responses["RazorpayConflict"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait", "schema": integer(0)}}
    return {"schemas": SCHEMAS, "responses": responses,
            "securitySchemes": {"RazorpayBasic": {
                "type": "http", "scheme": "basic",
                "description": "api_key as the user name, api_secret as the password"}}}
