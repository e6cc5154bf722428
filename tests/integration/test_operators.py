"""Operators, the people who run the gateway: made on the command line with a password and an
API token shown once and stored hashed, the demo operator seeded only with the demo merchant,
and tokens resolved to operators by the admin bridge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import psycopg
from psycopg.rows import dict_row

from paystate.config import Settings
from paystate.engine.operators import DEMO_OPERATOR
from paystate.engine.secrets_hash import check_password, hash_api_secret
from tests.support import ROOT, ThreadGateway, make_settings, separate_databases


def cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paystate", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, check=False,
                          env={**os.environ, "DATABASE_URL": settings.database_url,
                               "REDIS_URL": settings.redis_url, "TEST_MODE": "false",
                               "SEED_TEST_MERCHANT": "false", **env})


def operator_row(settings: Settings, email: str) -> dict[str, object] | None:
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM operators WHERE lower(email) = lower(%s)",
                            (email,)).fetchone()


def test_an_operator_is_made_once_with_secrets_shown_once_and_stored_hashed(
        settings: Settings) -> None:
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    made = cli(settings, "operators", "create", "--email", email, "--role", "viewer")
    assert made.returncode == 0, made.stderr
    shown = json.loads(made.stdout)
    assert (shown["email"], shown["role"]) == (email, "viewer")
    assert shown["api_token"].startswith("ops_") and len(shown["password"]) >= 16
    row = operator_row(settings, email)
    assert row is not None
    assert shown["password"] not in str(row.values()) and shown["api_token"] not in str(
        row.values())
    assert check_password(shown["password"], str(row["password_hash"]))
    assert row["token_hash"] == hash_api_secret(shown["api_token"])

    again = cli(settings, "operators", "create", "--email", email.upper(), "--role", "admin")
    assert again.returncode == 1 and "exists already" in again.stderr
    bad = cli(settings, "operators", "create", "--email", "x@example.com", "--role", "root")
    assert bad.returncode == 2


def test_the_demo_operator_is_seeded_only_with_the_demo_merchant(
        base_settings: Settings) -> None:
    fresh = separate_databases(make_settings(), "paystate_operators_seed", redis_db=5,
                               seed=False)
    assert cli(fresh, "seed").returncode == 0
    assert operator_row(fresh, DEMO_OPERATOR["email"]) is None
    seeded = cli(fresh, "seed", SEED_TEST_MERCHANT="true", TEST_OPERATOR_PASSWORD="pw-ops-1")
    assert seeded.returncode == 0, seeded.stderr
    row = operator_row(fresh, DEMO_OPERATOR["email"])
    assert row is not None and row["role"] == "admin"
    assert row["token_hash"] == hash_api_secret(DEMO_OPERATOR["token"])
    assert check_password("pw-ops-1", str(row["password_hash"]))
    assert cli(fresh, "seed", SEED_TEST_MERCHANT="true").returncode == 0  # idempotent


def test_the_admin_bridge_knows_an_operator_by_its_token(gateway: ThreadGateway) -> None:
    settings = gateway.settings
    made = json.loads(cli(settings, "operators", "create", "--email",
                          f"admin-{uuid.uuid4().hex[:8]}@example.com", "--role",
                          "admin").stdout)
    assert gateway.runtime is not None and gateway.runtime.admin is not None
    admin = gateway.runtime.admin
    found = gateway.call(admin.operator(made["api_token"]))
    assert found is not None and (found.email, found.may_change) == (made["email"], True)
    for wrong in (made["api_token"] + "x", "", "ops_\x00", made["api_token"][:-1]):
        assert gateway.call(admin.operator(wrong)) is None
