"""The demo merchant (``key_test_abc123``, ``test@example.com``) and its public credentials exist
only where the deployment asks for them (``TEST_MODE=true`` or ``SEED_TEST_MERCHANT=true``),
and only once ``paystate seed`` ran: a gateway process started without either setting, on a
database nobody seeded, has no account whose credentials are public."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
import requests

from paystate.config import TEST_MERCHANT_ID, Settings
from tests.support import (
    AUTH,
    ROOT,
    ProcessGateway,
    make_settings,
    process_env,
    separate_databases,
)

NEITHER = {"TEST_MODE": "false", "SEED_TEST_MERCHANT": "false"}


def run_cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url, **env}
    return subprocess.run([sys.executable, "-m", "paystate", *args], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def demo_rows(settings: Settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM merchants WHERE id = %s OR id IN"
                           " (SELECT merchant_id FROM merchant_keys WHERE api_key = %s)",
                           (TEST_MERCHANT_ID, AUTH["X-Api-Key"])).fetchone()
    assert row is not None
    return int(row[0])


def dashboard_login(url: str, email: str, password: str) -> requests.Response:
    """The sign-in form as a browser submits it (with the form's XSRF token), no redirects
    followed: 302 to the dashboard on success."""
    session = requests.Session()
    form = session.get(url + "/login", timeout=10)
    token = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
    assert token is not None, form.text[:500]
    return session.post(url + "/login", timeout=10, allow_redirects=False,
                        data={"_xsrf": token.group(1), "email": email, "password": password,
                              "next": "/dashboard"})


def assert_not_found(r: requests.Response) -> None:
    assert r.status_code == 404, r.text[:300]
    assert r.json()["error"]["code"] == "NOT_FOUND_ERROR"


@pytest.fixture
def unseeded(base_settings: Settings) -> Iterator[Settings]:
    yield separate_databases(make_settings(), "paystate_unseeded", redis_db=3, seed=False)


def test_seed_without_the_settings_seeds_nothing_and_says_why(unseeded: Settings) -> None:
    """A deploy script of old runs ``paystate seed`` by habit: it still applies the migrations
    (compose's one-shot service runs it for that), then seeds nothing."""
    seed = run_cli(unseeded, "seed", **NEITHER)
    assert seed.returncode == 0, seed.stderr
    assert "SEED_TEST_MERCHANT" in seed.stderr and "not seeded" in seed.stderr
    assert demo_rows(unseeded) == 0
    assert "up to date" in run_cli(unseeded, "migrate", **NEITHER).stdout


def test_a_gateway_without_the_settings_has_no_public_credentials(unseeded: Settings) -> None:
    gw = ProcessGateway(process_env(unseeded, **NEITHER)).start()
    try:
        r = gw.client.post("/api/v1/orders", {"amount": 50000})
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "AUTHENTICATION_ERROR"
        assert_not_found(gw.client.get("/api/v1/test/merchant", auth=False))
        login = dashboard_login(gw.url, "test@example.com", "password123")
        assert login.status_code == 401, (login.status_code, login.headers)
        # The process started without seeding anything either.
        assert demo_rows(unseeded) == 0
    finally:
        gw.stop()


def test_seed_test_merchant_seeds_the_demo_merchant(base_settings: Settings) -> None:
    own = separate_databases(make_settings(), "paystate_demo_seeded", redis_db=4, seed=False)
    env = {"TEST_MODE": "false", "SEED_TEST_MERCHANT": "true"}
    seed = run_cli(own, "seed", **env)
    assert seed.returncode == 0 and "test@example.com" in seed.stdout, seed.stderr
    assert demo_rows(own) == 1

    gw = ProcessGateway(process_env(own, **env)).start()
    try:
        order = gw.client.post("/api/v1/orders", {"amount": 50000})
        assert order.status_code == 201, order.text
        shown = gw.client.get("/api/v1/test/merchant", auth=False)
        assert shown.status_code == 200, shown.text
        assert shown.json() == {"id": TEST_MERCHANT_ID, "email": "test@example.com",
                                "api_key": "key_test_abc123", "seeded": True}
        login = dashboard_login(gw.url, "test@example.com", "password123")
        assert login.status_code == 302 and login.headers["Location"] == "/dashboard"
    finally:
        gw.stop()
