"""Identifiers from a cryptographic random source."""

from __future__ import annotations

import os
import string
import threading
import uuid

_ALPHABET = string.ascii_letters + string.digits
_BOUND = 256 - 256 % len(_ALPHABET)  # 248: bytes below it map uniformly onto 62 characters
_CHUNK = 4096


class _RandomBytes(threading.local):
    """OS random bytes read 4 KiB at a time, per thread: one system call per ~240 ids instead
    of one per id (a system call gives up the GIL, and the event loop's thread waits to get it
    back). The buffer is dropped in a forked child, which must not reuse its parent's bytes."""

    def __init__(self) -> None:
        self.pid = 0
        self.buffer = b""
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pid != os.getpid() or self.pos + n > len(self.buffer):
            self.pid, self.buffer, self.pos = os.getpid(), os.urandom(_CHUNK), 0
        out = self.buffer[self.pos:self.pos + n]
        self.pos += n
        return out


_random = _RandomBytes()


def new_id(prefix: str) -> str:
    """``prefix`` + 16 characters of [A-Za-z0-9], e.g. ``pay_3fK9...``; bytes at or above 248
    are skipped so every character stays equally likely."""
    chars: list[str] = []
    while len(chars) < 16:
        for b in _random.take(24):
            if b < _BOUND:
                chars.append(_ALPHABET[b % len(_ALPHABET)])
                if len(chars) == 16:
                    break
    return prefix + "".join(chars)


def new_uuid() -> str:
    """A random (version 4) UUID as text, from the same per-thread buffer as ``new_id``:
    ``uuid.uuid4`` makes a system call per UUID, and outbox rows and deliveries take one
    each."""
    return str(uuid.UUID(bytes=_random.take(16), version=4))


def uuid_text(value: object) -> str | None:
    """``value`` as a canonical UUID string, or None if it is not one (a client's id, a
    stream field: never trusted to be well formed)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
