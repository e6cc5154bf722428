"""The audit log: every operator action and every merchant key or secret roll appends one
row naming who did it; PostgreSQL refuses to update, delete or truncate it; the admin API reads
it newest first, a viewer too."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from paystate.config import Settings
from paystate.engine.operators import DEMO_OPERATOR
from tests.integration.test_admin_api import call, new_viewer
from tests.integration.test_operators import cli
from tests.support import Client, ThreadGateway

ADMIN = DEMO_OPERATOR["token"]


def rows(settings: Settings, target: str) -> list[dict[str, Any]]:
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM audit_log WHERE target = %s ORDER BY id",
                            (target,)).fetchall()


def new_merchant(gw: ThreadGateway) -> dict[str, Any]:
    made = call(gw, "POST", "/admin/v1/merchants", ADMIN,
                {"name": "Audited", "email": f"audit-{uuid.uuid4().hex[:8]}@example.com"})
    assert made.status_code == 201, made.text
    account: dict[str, Any] = made.json()
    return account


def test_the_database_refuses_to_rewrite_the_audit_log(settings: Settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (at, actor, actor_kind, action, target)"
                     " VALUES (now(), 'test', 'cli', 'test.append', 'test:refusal')")
        for sql in ("UPDATE audit_log SET action = 'rewritten' WHERE target = 'test:refusal'",
                    "DELETE FROM audit_log WHERE target = 'test:refusal'",
                    "DELETE FROM audit_log WHERE false",  # refused even when nothing matches
                    "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        left = conn.execute("SELECT action FROM audit_log WHERE target = 'test:refusal'")
        assert left.fetchall() == [("test.append",)]


def test_admin_api_actions_are_audited_with_the_operator(gateway: ThreadGateway) -> None:
    account = new_merchant(gateway)
    target = f"merchant:{account['id']}"
    assert call(gateway, "POST", f"/admin/v1/merchants/{account['id']}/suspend",
                ADMIN).status_code == 200
    assert call(gateway, "POST", f"/admin/v1/merchants/{account['id']}/reinstate",
                ADMIN).status_code == 200
    log = rows(gateway.settings, target)
    assert [(r["action"], r["actor"], r["actor_kind"]) for r in log] == [
        ("merchant.create", DEMO_OPERATOR["email"], "operator"),
        ("merchant.suspend", DEMO_OPERATOR["email"], "operator"),
        ("merchant.reinstate", DEMO_OPERATOR["email"], "operator")]
    assert log[0]["details"]["email"] == account["email"]
    assert log[1]["details"] == {"status_before": "active"}


def test_command_line_actions_are_audited_with_the_user(settings: Settings) -> None:
    made = cli(settings, "merchants", "create", "--name", "Cli Shop", "--email",
               f"cli-{uuid.uuid4().hex[:8]}@example.com")
    assert made.returncode == 0, made.stderr
    merchant_id = json.loads(made.stdout)["id"]
    assert cli(settings, "merchants", "suspend", merchant_id).returncode == 0
    log = rows(settings, f"merchant:{merchant_id}")
    assert [(r["action"], r["actor_kind"]) for r in log] == [("merchant.create", "cli"),
                                                             ("merchant.suspend", "cli")]


def test_merchant_key_and_secret_rolls_are_audited(gateway: ThreadGateway) -> None:
    account = new_merchant(gateway)
    keys = account["keys"]["test"]
    merchant = Client(gateway.url, {"X-Api-Key": keys["api_key"],
                                    "X-Api-Secret": keys["api_secret"]})
    rolled = merchant.post("/api/v1/merchant/keys/roll", {"mode": "live",
                                                          "expires_in_hours": 1})
    assert rolled.status_code == 200, rolled.text
    assert merchant.post("/api/v1/merchant/webhook/secret").status_code == 200
    endpoint = merchant.post("/api/v1/webhook_endpoints",
                             {"url": "https://example.com/hook",
                              "enabled_events": ["payment.success"]}).json()
    r = merchant.post(f"/api/v1/webhook_endpoints/{endpoint['id']}/secret/roll",
                      {"expires_in_hours": 0})
    assert r.status_code == 200, r.text
    log = rows(gateway.settings, f"merchant:{account['id']}")
    assert [(r["action"], r["actor"], r["actor_kind"]) for r in log[1:]] == [
        ("merchant.key_roll", account["id"], "merchant"),
        ("merchant.webhook_secret_regenerate", account["id"], "merchant")]
    assert log[1]["details"]["mode"] == "live"
    assert "secret" not in json.dumps(log[1]["details"]).replace("api_key", "")
    roll = rows(gateway.settings, f"endpoint:{endpoint['id']}")
    assert [(r["action"], r["actor"]) for r in roll] == [("endpoint.secret_roll",
                                                          account["id"])]


def test_the_admin_api_reads_the_log_newest_first_by_cursor(gateway: ThreadGateway) -> None:
    account = new_merchant(gateway)
    for action in ("suspend", "reinstate", "suspend"):
        call(gateway, "POST", f"/admin/v1/merchants/{account['id']}/{action}", ADMIN)
    viewer = new_viewer(gateway)
    target = f"merchant:{account['id']}"
    first = call(gateway, "GET", f"/admin/v1/audit?limit=2&target={target}", viewer)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["action"] for r in page["data"]] == ["merchant.suspend", "merchant.reinstate"]
    assert page["has_more"] is True
    rest = call(gateway, "GET", f"/admin/v1/audit?limit=2&target={target}"
                                f"&before={page['next_before']}", viewer).json()
    assert [r["action"] for r in rest["data"]] == ["merchant.suspend", "merchant.create"]
    assert rest["has_more"] is False and rest["next_before"] is None
    assert set(rest["data"][0]) == {"id", "at", "actor", "actor_kind", "action", "target",
                                    "details"}
    assert call(gateway, "GET", "/admin/v1/audit", None).status_code == 401
    assert call(gateway, "GET", "/admin/v1/audit?limit=0", ADMIN).status_code == 400
