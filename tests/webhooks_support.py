"""Helpers for the webhook tests: a fresh merchant per test (so no test changes the seeded
merchant's webhook settings under another), and direct reads of the webhook tables."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from paystate.config import Settings
from paystate.engine.clock import SystemClock
from paystate.engine.merchants import create_merchant
from paystate.engine.webhooks.deliveries import ATTEMPTS
from tests.support import Client


def new_merchant(settings: Settings, base_url: str, webhook_url: str | None = None,
                 webhook_secret: str | None = None) -> tuple[str, Client]:
    """A merchant with its own API key; returns its id and a client authenticated as it."""
    tag = uuid.uuid4().hex[:12]
    secret = f"secret_{tag}"
    merchant_id = create_merchant(settings.database_url, name=f"Hooks {tag}",
                                  email=f"hooks-{tag}@example.com", api_key=f"key_{tag}",
                                  api_secret=secret, webhook_url=webhook_url,
                                  webhook_secret=webhook_secret, now=SystemClock().now())
    return merchant_id, Client(base_url, {"X-Api-Key": f"key_{tag}", "X-Api-Secret": secret})


def rows(settings: Settings, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def deliveries_of(settings: Settings, merchant_id: str) -> list[dict[str, Any]]:
    return rows(settings, "SELECT * FROM webhook_logs WHERE merchant_id = %s ORDER BY seq",
                merchant_id)


def attempts_of(settings: Settings, delivery_id: str) -> list[dict[str, Any]]:
    """The delivery's attempts, oldest first, read from their transitions as the API reads them."""
    return rows(settings, ATTEMPTS, str(delivery_id))


def retire_deliveries(settings: Settings, merchant_id: str) -> None:
    """Teardown for a test that leaves deliveries retrying: fail them now, so no later test's
    sweeper (the database is shared) POSTs to a receiver port that may have been reused."""
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE webhook_logs SET status = 'failed', next_retry_at = NULL,"
                     " lease_until = NULL WHERE merchant_id = %s"
                     " AND status IN ('pending', 'retrying')", (merchant_id,))
