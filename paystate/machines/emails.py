"""The one shape an email address must have, for merchants and operators alike: something,
an ``@``, and a host with a dot, with no spaces. Pure."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 254


def is_email(text: str) -> bool:
    return len(text) <= MAX_EMAIL_LENGTH and _EMAIL.fullmatch(text) is not None
