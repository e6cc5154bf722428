"""The admin API (``/admin/v1``) in ``/openapi.json``: its operations (tag ``admin``), schemas
and the operator token's security scheme, merged into the document by ``openapi.py`` as the
Razorpay dialect's are."""

from __future__ import annotations

from typing import Any

from ..openapi_parts import assemble, json_content, path_param, query_param, reply
from ..openapi_schemas import (
    TIMESTAMP,
    UUID,
    Schema,
    enum,
    integer,
    nullable,
    ref,
    request_object,
    response_object,
    string,
)

TAG = "admin"
SECURITY: list[dict[str, list[str]]] = [{"OperatorToken": []}]
MERCHANT_ID = path_param("merchant_id", "A merchant's id (a UUID)")
COUNTS = {"type": "object", "additionalProperties": {
    "type": "object", "additionalProperties": integer(0)}}
MACHINE_FIGURES = {"type": "object", "additionalProperties": {"type": "object"}}

ACCOUNT = response_object({
    "id": UUID, "name": string(), "email": string(), "status": enum("active", "suspended"),
    "created_at": TIMESTAMP,
    "api_keys": {"type": "object", "properties": {"test": string(), "live": string()},
                 "additionalProperties": False}}, "A merchant account (no secrets)")
KEY_PAIR = response_object({"api_key": string(), "api_secret": string()})
ACCOUNT_CREATED = response_object({
    "id": UUID, "name": string(), "email": string(), "status": enum("active"),
    "keys": response_object({"test": KEY_PAIR, "live": KEY_PAIR}),
    "webhook_secret": string(), "dashboard_password": string()},
    "The new account with its secrets and password: shown this once, stored hashed")
AUDIT_ENTRY = response_object({
    "id": integer(1), "at": TIMESTAMP,
    "actor": string(description="An operator's email, a merchant's id, or the command "
                                "line's user"),
    "actor_kind": enum("operator", "merchant", "cli"),
    "action": string(description="e.g. merchant.suspend, merchant.key_roll, endpoint.disable"),
    "target": string(description="merchant:<id>, endpoint:<id> or delivery:<id>"),
    "details": {"type": "object"}})
SCHEMAS: dict[str, Schema] = {
    "AdminMerchantCreate": request_object({"name": string(255, minLength=1),
                                           "email": string(255, minLength=1)}),
    "AdminMerchant": ACCOUNT,
    "AdminMerchantCreated": ACCOUNT_CREATED,
    "AdminMerchantList": response_object({"data": {"type": "array", "items": ref(
        "AdminMerchant")}}),
    "AuditEntry": AUDIT_ENTRY,
    "AuditPage": response_object({
        "data": {"type": "array", "items": ref("AuditEntry")}, "has_more": {"type": "boolean"},
        "next_before": nullable(integer(1))}, "Newest first"),
    "Stats": response_object({
        "at": TIMESTAMP, "mode": enum("all", "test", "live"),
        "counts": COUNTS | {"description": "machine -> state -> objects"},
        "rates": {"type": "object", "description": "Last window_s seconds: per machine, "
                  "objects created, succeeded and failed"},
        "stuck": MACHINE_FIGURES | {"description": "machine -> {count, more, items}: more "
                                    "than 60 s past due"},
        "workers": {"type": "array", "items": {"type": "object"}},
        "streams": {"type": "array", "items": {"type": "object"},
                    "description": "Per consumer group: stream, group, consumers, pending, "
                                   "lag, length"},
        "health": {"type": "object"}}, "The figures of the /ops overview"),
}
ERRORS = {401: "OperatorUnauthorized", 403: "OperatorForbidden", 404: "NotFound",
          400: "BadRequest", 409: "DuplicateEmail", 413: "PayloadTooLarge"}


def operation(op_id: str, summary: str, ok: dict[int, dict[str, Any]], *,
              errors: tuple[int, ...] = (), params: list[dict[str, Any]] | None = None,
              body: str | None = None, description: str | None = None) -> dict[str, Any]:
    statuses = {401, 403, *errors, *((400, 413) if body else ())}
    return assemble(op_id, TAG, summary, ok, security=SECURITY,
                    errors={s: ERRORS[s] for s in statuses}, server_error="ServerError",
                    params=params, body=body, description=description)


def paths() -> dict[str, dict[str, Any]]:
    one: dict[str, Any] = {"params": [MERCHANT_ID], "errors": (404,)}
    viewer = " A viewer's token may call it."
    changing = " A viewer's token: 403 FORBIDDEN. Audited with the operator's email."
    return {
        "/admin/v1/merchants": {
            "post": operation(
                "adminCreateMerchant", "Create a merchant with test and live keys",
                {201: reply("The new account", ref("AdminMerchantCreated"))},
                body="AdminMerchantCreate", errors=(409,),
                description="Unknown fields: 400. A taken email (any case): 409 "
                            "DUPLICATE_EMAIL." + changing),
            "get": operation("adminListMerchants", "Every merchant, oldest first",
                             {200: reply("The merchants", ref("AdminMerchantList"))},
                             description=viewer.strip())},
        "/admin/v1/merchants/{merchant_id}": {"get": operation(
            "adminGetMerchant", "One merchant", {200: reply("The merchant",
                                                            ref("AdminMerchant"))}, **one)},
        "/admin/v1/merchants/{merchant_id}/suspend": {"post": operation(
            "adminSuspendMerchant", "Suspend: its API calls answer 403 ACCOUNT_SUSPENDED",
            {200: reply("The merchant, suspended", ref("AdminMerchant"))},
            description="Ends its dashboard sessions; accepted work completes. "
                        "Idempotent." + changing, **one)},
        "/admin/v1/merchants/{merchant_id}/reinstate": {"post": operation(
            "adminReinstateMerchant", "Reinstate: the same keys work again",
            {200: reply("The merchant, active", ref("AdminMerchant"))},
            description="Idempotent." + changing, **one)},
        "/admin/v1/audit": {"get": operation(
            "adminAudit", "The audit log, newest first",
            {200: reply("One page", ref("AuditPage"))}, errors=(400,),
            params=[query_param("limit", integer(1, 200) | {"default": 50}, "Page size"),
                    query_param("before", integer(1, 2**62),
                                "The previous page's next_before: the entries older than it"),
                    query_param("target", string(100, minLength=1),
                                "Only entries about this target, e.g. merchant:<id>")],
            description="Every operator action and merchant key or secret roll." + viewer)},
        "/admin/v1/stats": {"get": operation(
            "adminStats", "The /ops overview's figures",
            {200: reply("The figures", ref("Stats"))}, errors=(400,),
            params=[query_param("mode", enum("all", "test", "live") | {"default": "all"},
                                "Objects of one mode, or both")],
            description="State counts, 5-minute rates, stuck work, worker heartbeats, "
                        "consumer groups, PostgreSQL and Redis health." + viewer)},
    }


def components() -> dict[str, dict[str, Any]]:
    error = json_content(ref("Error"))
    return {
        "schemas": SCHEMAS,
        "responses": {
            "OperatorUnauthorized": {"description": "Missing or wrong operator token "
                                                    "(AUTHENTICATION_ERROR)", "content": error},
            "OperatorForbidden": {"description": "A viewer's token on a changing call "
                                                 "(FORBIDDEN)", "content": error},
            "DuplicateEmail": {"description": "A merchant has this email (DUPLICATE_EMAIL)",
                               "content": error}},
        "securitySchemes": {"OperatorToken": {
            "type": "http", "scheme": "bearer",
            "description": "An operator's API token (`paystate operators create`)"}},
    }
