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
from paystate.engine.operators import seed_demo_operator
from tests.support import (
    Client,
    Front,
    ProcessGateway,
    ThreadGateway,
    deployed_env,
    deployed_gateway,
    make_settings,
    separate_databases,
)

# Where the API-level tests run: the whole gateway in this test process (its internals at
# hand), and the layout users deploy (``make run``: two HTTP processes and a worker), where a
# bug that lives between processes shows.
TOPOLOGIES = ("in-process", "deployed")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_error_logs: the test provokes ERROR log lines")
    config.addinivalue_line("markers", "slow: a load or soak test of a minute or more")
    for tier, what in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {what}")
    config.addinivalue_line("markers", "deployed: runs against the make run layout (processes)")
    config.addinivalue_line("markers", "processes: starts gateway processes of its own")


# The tiers, by folder. `make test-fast` runs unit and integration tests that start no process
# (about a minute); `make test` runs everything.
TIERS = {
    "unit": "pure code: no process, no socket, no database (seconds)",
    "integration": "real PostgreSQL and Redis, the gateway in the test process",
    "checks": "the repository's own files through their tools (ruff, mypy, node, git)",
    "e2e": "gateway processes, Chromium, outages, kill -9, chaos",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        tier = parts[parts.index("tests") + 1] if "tests" in parts else ""
        if tier in TIERS:
            item.add_marker(tier)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("front") == "deployed":
            item.add_marker("deployed")
            item.add_marker("processes")
    logging.getLogger("transitions").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = Settings.from_env()
    reset_database(settings.database_url)
    seed_test_merchant(settings.database_url, settings.test_merchant_password, SystemClock().now())
    seed_demo_operator(settings.database_url, settings.test_operator_password, SystemClock().now())
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


def topology(request: pytest.FixtureRequest) -> str | None:
    """The topology a test's ``front`` runs against (None when it takes no ``front``)."""
    callspec = getattr(request.node, "callspec", None)
    return callspec.params.get("front") if callspec else None


@pytest.fixture
def settings(base_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Fresh settings (a stream prefix of its own); against the deployed layout, that
    layout's, so that a test reads the streams its gateway writes."""
    if topology(request) == "deployed":
        return request.getfixturevalue("deployed_settings")
    if topology(request) == "in-process":
        return request.getfixturevalue("in_process").settings
    return make_settings()


@pytest.fixture(scope="session")
def in_process(base_settings: Settings) -> Iterator[ThreadGateway]:
    """One gateway on a thread of the test process for the API-level tests of the session
    (starting one per test cost a quarter of a second each); tests that reach into a
    runtime, or need settings of their own, take ``gateway`` or build their own. On a
    database of its own, as the deployed layout: its sweepers must not take up the work that
    other tests drive themselves."""
    with ThreadGateway(separate_databases(make_settings(), "paystate_in_process",
                                          redis_db=2)) as gw:
        yield gw


@pytest.fixture(scope="session")
def deployed_settings(base_settings: Settings) -> Settings:
    """The deployed layout's own database and Redis database on the test servers: its
    sweepers scan every pending row of their database, and must not take up work that other
    tests create and drive themselves."""
    return separate_databases(make_settings(), "paystate_deployed", redis_db=1)


@pytest.fixture
def gateway(settings: Settings) -> Iterator[ThreadGateway]:
    with ThreadGateway(settings) as gw:
        yield gw


@pytest.fixture(scope="session")
def deployed(deployed_settings: Settings) -> Iterator[ProcessGateway]:
    """One ``make run`` layout for the whole session (started on first use)."""
    with deployed_gateway(deployed_env(deployed_settings)) as gw:
        yield gw


@pytest.fixture(params=TOPOLOGIES)
def front(request: pytest.FixtureRequest, settings: Settings) -> Front:
    """Each topology in turn."""
    if request.param == "deployed":
        gw: ProcessGateway = request.getfixturevalue("deployed")
        return Front(gw.url, settings, Client(gw.url))
    thread: ThreadGateway = request.getfixturevalue("in_process")
    return Front(thread.url, thread.settings, Client(thread.url))


@pytest.fixture
def client(front: Front) -> Client:
    """A client of the test merchant, against each topology in turn."""
    return front.client


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
