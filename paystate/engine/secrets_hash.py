"""Hashing of API secrets and passwords, and their constant-time comparison.

API secrets are long random strings: one SHA-256 is enough and cheap enough to check on every
request. Passwords are chosen by people: scrypt with a per-password salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os


class Secret(str):
    """A string that never shows itself in a repr or a log line."""

    def __repr__(self) -> str:
        return "Secret('***')"


def hash_api_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def check_api_secret(secret: str, stored: str) -> bool:
    return hmac.compare_digest(hash_api_secret(secret).encode(), stored.encode())


_N, _R, _P = 2**14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt64, digest64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt64)
        expected = base64.b64decode(digest64)
        got = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def new_webhook_secret() -> str:
    """``whsec_`` + base64 of 24 random bytes: valid for Standard Webhooks verifiers."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()
