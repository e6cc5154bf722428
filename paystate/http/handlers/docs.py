"""``GET /openapi.json`` (no auth): the API's OpenAPI document."""

from __future__ import annotations

from functools import cache

from ..base import BaseHandler, dumps
from ..openapi import openapi_document


@cache
def _document(razorpay: bool) -> bytes:
    # Static for the life of the process: serialise once. No ``servers`` entry, so clients
    # resolve paths against the URL they fetched the document from (OpenAPI's default "/"),
    # and no client-sent Host header is echoed back.
    return dumps(openapi_document(razorpay=razorpay))


class OpenApiHandler(BaseHandler):
    async def get(self) -> None:
        self.send(200, _document(self.deps.settings.razorpay_front))
