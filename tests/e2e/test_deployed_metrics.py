"""/metrics in the layout ``make run`` starts (two HTTP processes and a worker): whichever HTTP
process a scrape lands on, it shows every process of the deployment (prometheus_client's
multiprocess mode over the supervisor's directory), so the worker's settlements are visible and
the request counters are the sum over the HTTP processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import (
    FreshConnections,
    ProcessGateway,
    deployed_env,
    deployed_gateway,
    make_settings,
    separate_databases,
)

PAYMENTS = 12
SCRAPES = 6
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def fresh_deployment() -> Iterator[ProcessGateway]:
    """A deployment of its own, on databases of its own: its counters start at zero, so the
    totals below are exact (the session's ``deployed`` has served other tests)."""
    settings = separate_databases(make_settings(), "paystate_metrics", redis_db=6)
    with deployed_gateway(deployed_env(settings)) as gw:
        yield gw


def scrape(client: FreshConnections) -> Samples:
    r = client.get("/metrics", auth=False)
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_every_scrape_shows_the_worker_and_all_http_processes(
        fresh_deployment: ProcessGateway) -> None:
    # A new connection per request: the kernel spreads orders, payments and scrapes over both
    # HTTP processes.
    client = FreshConnections(fresh_deployment.url)
    ids = [client.upi_payment(client.order()["id"])["id"] for _ in range(PAYMENTS)]
    assert all(client.wait_payment(i, timeout=10)["status"] == "success" for i in ids)

    settled = ("paystate_transitions_total",
               (("from_state", "pending"), ("machine", "payment"), ("to_state", "success")))
    created = ("paystate_transitions_total",
               (("from_state", "none"), ("machine", "payment"), ("to_state", "pending")))
    orders = ("paystate_http_requests_total",
              (("handler", "OrdersHandler"), ("method", "POST"), ("status", "201")))
    payments = ("paystate_http_requests_total",
                (("handler", "PaymentsHandler"), ("method", "POST"), ("status", "201")))
    for _ in range(SCRAPES):
        m = scrape(client)
        # Settled by the worker's shards, which serve no HTTP.
        assert m.get(settled) == PAYMENTS
        # Created by the shards of whichever HTTP process took the request.
        assert m.get(created) == PAYMENTS
        assert (m.get(orders), m.get(payments)) == (PAYMENTS, PAYMENTS)
        assert any(name == "paystate_queue_depth" for name, _ in m)
