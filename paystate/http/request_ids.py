"""Request ids: every answer of the app carries ``X-Request-Id: req_<16 characters>``, error
bodies repeat it as ``request_id``, and the access log line of the request names it, so a
merchant quoting an id from an error is found in the logs.

The id is the gateway's own, always: a client's ``X-Request-Id`` is not echoed (the contract's
ids start with ``req_``, and an id a client chose could collide with another's or forge a log
line). A client that sent one finds it beside ours in the access log line.
All of it runs on the gateway's event loop, once per request.
"""

from __future__ import annotations

import logging
import re
import secrets
import string

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform, RequestHandler

HEADER = "X-Request-Id"
access_log = logging.getLogger("tornado.access")
# What of a client's own X-Request-Id is copied into the log line: short and plain.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_ATTRIBUTE = "_paystate_request_id"
_ALPHABET = string.ascii_letters + string.digits


def request_id(request: HTTPServerRequest) -> str:
    """The request's id, made on first use and kept on the request."""
    found: str | None = getattr(request, _ATTRIBUTE, None)
    if found is None:
        found = "req_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))
        setattr(request, _ATTRIBUTE, found)
    return found


class RequestIdTransform(OutputTransform):
    """Adds ``X-Request-Id`` to every response of the application, whichever handler wrote
    it (API, pages, static files, Tornado's own errors), and however its headers were reset
    (``write_error`` clears them)."""

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        self._request = request

    def transform_first_chunk(self, status_code: int, headers: HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, HTTPHeaders, bytes]:
        headers[HEADER] = request_id(self._request)
        return status_code, headers, chunk


def log_request(handler: RequestHandler) -> None:
    """Tornado's access log line (status, method, path, client, time) with the request id,
    and the client's own ``X-Request-Id`` if it sent a plain one: the ``log_function``
    setting."""
    status = handler.get_status()
    if status < 400:
        level = access_log.info
    elif status < 500:
        level = access_log.warning
    else:
        level = access_log.error
    request = handler.request
    sent = request.headers.get(HEADER, "")
    client = f" (client {sent})" if _CLIENT_ID.fullmatch(sent) else ""
    level("%d %s %.2fms %s%s", status, handler._request_summary(),
          1000.0 * request.request_time(), request_id(request), client)
