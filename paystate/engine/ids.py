"""Identifiers from a cryptographic random source."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_BOUND = 256 - 256 % len(_ALPHABET)  # 248: bytes below it map uniformly onto 62 characters


def new_id(prefix: str) -> str:
    """``prefix`` + 16 characters of [A-Za-z0-9], e.g. ``pay_3fK9...``.

    One read of the OS random source per id (``secrets.choice`` per character would make 16,
    each a system call that gives up the GIL on the event loop's thread); bytes at or above
    248 are skipped so every character stays equally likely.
    """
    chars: list[str] = []
    while len(chars) < 16:
        for b in secrets.token_bytes(24):
            if b < _BOUND:
                chars.append(_ALPHABET[b % len(_ALPHABET)])
                if len(chars) == 16:
                    break
    return prefix + "".join(chars)
