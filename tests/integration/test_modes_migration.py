"""Migration 012 on data written before it: in a scratch database migrated up to just before
012, a merchant, an order, a payment, a refund and a delivery in the old shape; after it, the
merchant's one key pair is its test key (the demo merchant keeps key_test_abc123 /
secret_test_xyz789), it has no live key, and every old object reads as test mode."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from paystate.config import TEST_MERCHANT_ID, Settings
from paystate.engine.migrations import migrate
from paystate.engine.secrets_hash import check_api_secret, hash_api_secret
from tests.support import scratch_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def scratch_before_012(settings: Settings) -> str:
    return scratch_database(settings, "paystate_premodes", before="012")


def test_old_rows_become_test_mode_and_the_seeded_keys_keep_working(
        base_settings: Settings) -> None:
    url = scratch_before_012(base_settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO merchants (id, name, email, api_key, api_secret_hash, webhook_secret,"
            " created_at, updated_at) VALUES (%s, 'Test Merchant', 'test@example.com',"
            " 'key_test_abc123', %s, 'whsec_test_abc123', %s, %s)",
            (TEST_MERCHANT_ID, hash_api_secret("secret_test_xyz789"), NOW, NOW))
        conn.execute("INSERT INTO orders (id, merchant_id, amount, currency, status, version,"
                     " created_at, updated_at) VALUES ('order_old', %s, 1000, 'INR', 'paid', 2,"
                     " %s, %s)", (TEST_MERCHANT_ID, NOW, NOW))
        conn.execute("INSERT INTO payments (id, order_id, merchant_id, amount, currency, method,"
                     " vpa, status, version, created_at, updated_at) VALUES ('pay_old',"
                     " 'order_old', %s, 1000, 'INR', 'upi', 'a@b', 'success', 2, %s, %s)",
                     (TEST_MERCHANT_ID, NOW, NOW))
        conn.execute("INSERT INTO refunds (id, payment_id, order_id, merchant_id, amount,"
                     " status, version, created_at, updated_at) VALUES ('rfnd_old', 'pay_old',"
                     " 'order_old', %s, 100, 'processed', 2, %s, %s)",
                     (TEST_MERCHANT_ID, NOW, NOW))
        conn.execute("INSERT INTO webhook_logs (id, merchant_id, event, event_key, payload,"
                     " status, version, created_at, updated_at) VALUES (gen_random_uuid(), %s,"
                     " 'payment.success', 'k1', '{}', 'succeeded', 1, %s, %s)",
                     (TEST_MERCHANT_ID, NOW, NOW))
    assert "012_merchant_modes" in migrate(url)
    with psycopg.connect(url) as conn:
        keys = conn.execute("SELECT api_key, mode, secret_hash FROM merchant_keys"
                            " WHERE merchant_id = %s", (TEST_MERCHANT_ID,)).fetchall()
        assert [(k, m) for k, m, _h in keys] == [("key_test_abc123", "test")]
        assert check_api_secret("secret_test_xyz789", keys[0][2])
        for table in ("orders", "payments", "refunds", "webhook_logs"):
            modes = conn.execute(f"SELECT DISTINCT livemode FROM {table}").fetchall()
            assert modes == [(False,)], table
        status = conn.execute("SELECT status FROM merchants").fetchall()
        assert status == [("active",)]
