"""Building blocks of ``/openapi.json`` shared by every dialect's operations (the native API
in ``openapi.py``, the Razorpay dialect in ``razorpay/openapi.py``)."""

from __future__ import annotations

from typing import Any

from .openapi_schemas import Schema, ref, string


def json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def reply(description: str, schema: Schema,
          headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": json_content(schema)}
    if headers:
        response["headers"] = headers
    return response


def path_param(name: str, description: str) -> dict[str, Any]:
    # The pattern is the route's: any other value never reaches the handler.
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": string(64, minLength=1, pattern="^[A-Za-z0-9_-]{1,64}$")}


def query_param(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


REQUEST_ID_HEADER = {"$ref": "#/components/headers/RequestId"}


def with_request_id(response: dict[str, Any]) -> dict[str, Any]:
    """Every answer carries ``X-Request-Id``, the id to quote to support."""
    return {**response, "headers": {**response.get("headers", {}),
                                    "X-Request-Id": REQUEST_ID_HEADER}}


def assemble(op_id: str, tag: str, summary: str, ok: dict[int, dict[str, Any]], *,
             security: list[dict[str, list[str]]], errors: dict[int, str], server_error: str,
             params: list[dict[str, Any]] | None = None, body: str | None = None,
             body_required: bool = True, examples: dict[str, dict[str, Any]] | None = None,
             idempotent: bool = False, description: str | None = None) -> dict[str, Any]:
    """One operation: ``ok`` responses by status, then a ``$ref`` to the response component
    named in ``errors`` for each error status, and ``server_error`` for 5XX. ``examples``:
    named request bodies of ``body``; ``idempotent`` adds the Idempotency-Key header."""
    op: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary,
                          "security": security}
    if description:
        op["description"] = description
    parameters = list(params or [])
    if idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if parameters:
        op["parameters"] = parameters
    if body:
        content = json_content(ref(body))
        content["application/json"]["examples"] = {
            name: {"value": value} for name, value in (examples or {}).items()}
        op["requestBody"] = {"required": body_required, "content": content}
    responses: dict[str, Any] = {str(status): with_request_id(response)
                                 for status, response in ok.items()}
    for status, component in sorted(errors.items()):
        responses[str(status)] = {"$ref": f"#/components/responses/{component}"}
    responses["5XX"] = {"$ref": f"#/components/responses/{server_error}"}
    op["responses"] = responses
    return op
