"""The command line's settings: ``Settings.from_env()``, or a one-line error and exit status 2
for the commands (``paystate ...``, ``paystate merchants ...``, ``paystate operators ...``)."""

from __future__ import annotations

import sys

from .config import Settings, SettingsError


def settings_or_none() -> Settings | None:
    """The settings, or None after printing why they cannot be read."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"paystate: {exc}", file=sys.stderr)
        return None
