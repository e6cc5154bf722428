"""Shared fixtures: a clean database and Redis per test session, gateways per test, and a guard
that fails a test when an unexpected ERROR was logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from paystate.config import Settings
from paystate.engine.clock import SystemClock
from paystate.engine.merchants import seed_test_merchant
from paystate.engine.migrations import reset_database
from tests.support import Client, ThreadGateway, make_settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_error_logs: the test provokes ERROR log lines")
    logging.getLogger("transitions").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = Settings.from_env()
    reset_database(settings.database_url)
    seed_test_merchant(settings.database_url, settings.test_merchant_password, SystemClock().now())
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return make_settings()


@pytest.fixture
def gateway(settings: Settings) -> Iterator[ThreadGateway]:
    gw = ThreadGateway(settings).start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def client(gateway: ThreadGateway) -> Client:
    return gateway.client


@pytest.fixture(autouse=True)
def no_unexpected_error_logs(request: pytest.FixtureRequest,
                             caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    if request.node.get_closest_marker("allow_error_logs"):
        return
    # Tornado's access log reports every 5xx at ERROR; a 503 a test asked for is no error.
    errors = [r for r in caplog.get_records("call")
              if r.levelno >= logging.ERROR and r.name != "tornado.access"]
    assert not errors, "unexpected ERROR logs: " + "; ".join(r.getMessage() for r in errors)
