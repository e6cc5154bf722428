"""JSON as bytes, one way for the whole gateway: response bodies and stream payloads."""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON. orjson writes it several times faster than the standard library,
    byte for byte alike for what bodies and events hold; an integer past 64 bits (a
    merchant's note may hold one) is left to the standard library."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
