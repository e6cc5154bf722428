"""Identifiers from a cryptographic random source."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """``prefix`` + 16 characters of [A-Za-z0-9], e.g. ``pay_3fK9...``."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))
