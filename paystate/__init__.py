"""Paystate: a payment gateway whose payments, refunds and webhook deliveries are persisted state machines."""

#: The one place the version is written: pyproject.toml reads it, ``paystate --version`` prints
#: it and ``GET /health`` answers it. CHANGELOG.md says what each version changed.
__version__ = "0.2.0"
