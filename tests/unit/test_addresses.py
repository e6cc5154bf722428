"""What a starting gateway prints: where each front answers, and the demo logins only where
the demo merchant is asked for."""

from __future__ import annotations

from dataclasses import replace

from paystate.addresses import startup_lines
from paystate.config import Settings
from paystate.engine.webhooks.urls import PRIVATE_REFUSAL


def test_the_addresses_and_the_demo_logins_only_where_asked_for() -> None:
    base = replace(Settings.from_env({}), host="127.0.0.1", port=8123, test_mode=False,
                   seed_test_merchant=False)
    text = "\n".join(startup_lines(base))
    for where in ("http://127.0.0.1:8123/api/v1", "http://127.0.0.1:8123/v1",
                  "http://127.0.0.1:8123/checkout?order_id=", "http://127.0.0.1:8123/dashboard",
                  "http://127.0.0.1:8123/admin/v1"):
        assert where in text
    assert "key_test_abc123" not in text and "ops_test_abc123" not in text
    demo = "\n".join(startup_lines(replace(base, seed_test_merchant=True,
                                           test_merchant_password="pw-demo")))
    assert "key_test_abc123" in demo and "test@example.com / pw-demo" in demo
    assert "ops_test_abc123" in demo
    assert "API (Razorpay)" in text
    assert "API (Razorpay)" not in "\n".join(startup_lines(replace(base, razorpay_front=False)))


def test_the_loopback_refusal_names_the_setting_that_allows_it() -> None:
    assert "WEBHOOK_ALLOW_PRIVATE=true" in PRIVATE_REFUSAL
