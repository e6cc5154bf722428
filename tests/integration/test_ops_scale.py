"""/ops stays cheap at any data size: with 100,000 payments (and 1,000 of them stuck) in a
database of its own, the overview answers in well under 200 ms.

This is a bound, not a benchmark: the overview reruns every 2 s for each open console, so it
must not grow with the tables. Its counts are sums of the few ``state_counts`` rows (migration
016's triggers keep them), its stuck work a range scan of a partial index on due times capped
at 1,000 rows, its rates a range scan of the last 5 minutes of transitions. A full scan of
100,000 payments per request alone would cost tens of milliseconds on this machine and grow
linearly; 200 ms leaves room for a slow shared CI machine while still catching a scan that
creeps back in at larger sizes (the bound is checked on the median of a few requests, with
the overview's one-second cache turned off so every request runs the queries)."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator

import psycopg
import pytest
import requests

from paystate.config import Settings
from paystate.engine.merchants import TEST_MERCHANT
from paystate.engine.operators import DEMO_OPERATOR
from tests.support import ThreadGateway, make_settings, separate_databases

PAYMENTS = 100_000
STUCK = 1_000
BOUND_S = 0.200


@pytest.fixture(scope="module")
def big(base_settings: Settings) -> Iterator[ThreadGateway]:
    settings = separate_databases(make_settings(), "paystate_ops_scale", redis_db=11)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        # An order each: an order takes one successful payment at most.
        conn.execute("INSERT INTO orders (id, merchant_id, amount, currency, status, version,"
                     " created_at, updated_at) SELECT 'order_scale_' || i, %s, 50000, 'INR',"
                     " 'created', 1, now(), now() FROM generate_series(1, %s) AS i",
                     (TEST_MERCHANT["id"], PAYMENTS))
        # One statement: the counters' trigger runs once for all 100,000 rows.
        conn.execute(
            "INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, status,"
            " settle_due_at, version, created_at, updated_at)"
            " SELECT 'pay_scale_' || i, 'order_scale_' || i, %s, 50000, 'INR', 'upi',"
            " CASE WHEN i <= %s THEN 'pending' WHEN i %% 3 = 0 THEN 'failed' ELSE 'success' END,"
            " CASE WHEN i <= %s THEN now() - interval '10 minutes' END, 1,"
            " now() - interval '1 day', now() - interval '1 day'"
            " FROM generate_series(1, %s) AS i",
            (TEST_MERCHANT["id"], STUCK, STUCK, PAYMENTS))
        conn.execute("ANALYZE payments")
    # No sweeper: the stuck payments must stay stuck while the test looks at them.
    with ThreadGateway(settings, start_background=False) as gw:
        yield gw


def signed_in(gw: ThreadGateway) -> requests.Session:
    http = requests.Session()
    token = re.search(r'name="_xsrf" value="([^"]+)"',
                      http.get(gw.url + "/ops/login").text)
    assert token
    r = http.post(gw.url + "/ops/login", allow_redirects=False, data={
        "_xsrf": token.group(1), "email": DEMO_OPERATOR["email"],
        "password": gw.settings.test_operator_password})
    assert r.status_code == 302, r.text[:300]
    return http


def test_the_overview_answers_in_bounded_time_at_100k_payments(big: ThreadGateway) -> None:
    assert big.runtime is not None and big.runtime.ops is not None
    big.runtime.ops.figures.cache_s = 0.0
    http = signed_in(big)
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        r = http.get(big.url + "/ops")
        timings.append(time.perf_counter() - started)
        assert r.status_code == 200
    body = r.text
    assert 'data-state="success"' in body
    assert f'data-machine="payment">{STUCK}+<' in body or f'data-machine="payment">{STUCK}<' \
        in body
    median = statistics.median(timings)
    print(f"GET /ops at {PAYMENTS} payments: median {median * 1000:.1f} ms")
    assert median < BOUND_S, f"GET /ops took {median * 1000:.0f} ms (median of {timings})"


def test_the_counts_are_exact(big: ThreadGateway) -> None:
    assert big.runtime is not None and big.runtime.ops is not None
    figures = big.call(big.runtime.ops.overview(False))
    failed = PAYMENTS // 3 - STUCK // 3
    assert figures["counts"]["payment"] == {"pending": STUCK, "failed": failed,
                                            "success": PAYMENTS - STUCK - failed}
    assert figures["stuck"]["payment"]["count"] == STUCK
    assert len(figures["stuck"]["payment"]["items"]) == 20
