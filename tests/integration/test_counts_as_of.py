"""Counts per state as of an instant (``engine/history.counts_as_of``, behind the dashboard's
state views with ``?as_of=`` and the operators' console) on a database of its own holding
100,000 transitions (37,500 payments of 20 merchants over ten hours): the counts equal a plain
"latest transition at or before the instant per object" over the whole table, and the plan
reads transitions through the unique (entity_id, seq) index, never a scan of the table."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from paystate.config import Settings
from paystate.engine.history import NO_JIT, counts_sql
from tests.support import separate_databases

START = datetime(2026, 6, 1, 8, tzinfo=UTC)
PAYMENTS, MERCHANTS = 37_500, 20

FILL = """
INSERT INTO merchants (id, name, email, webhook_secret, created_at, updated_at)
SELECT ('00000000-0000-0000-0000-' || lpad(m::text, 12, '0'))::uuid, 'M' || m,
       'm' || m || '@example.com', 'whsec_x', %(start)s, %(start)s
FROM generate_series(1, %(merchants)s) m;
INSERT INTO orders (id, merchant_id, amount, currency, status, version, created_at, updated_at)
SELECT 'order_' || i, ('00000000-0000-0000-0000-' || lpad((i %% %(merchants)s + 1)::text, 12,
       '0'))::uuid, 1000, 'INR', 'paid', 2, %(start)s + i * interval '1 second',
       %(start)s + i * interval '1 second'
FROM generate_series(1, %(payments)s) i;
INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, vpa, status, captured,
                      version, created_at, updated_at)
SELECT 'pay_' || i, 'order_' || i, o.merchant_id, 1000, 'INR', 'upi', 'a@b',
       CASE WHEN i %% 3 = 0 THEN 'failed' ELSE 'success' END, i %% 3 <> 0,
       CASE WHEN i %% 3 <> 0 THEN 3 ELSE 2 END, o.created_at,
       o.created_at + CASE WHEN i %% 3 <> 0 THEN interval '62 seconds'
                           ELSE interval '2 seconds' END
FROM generate_series(1, %(payments)s) i JOIN orders o ON o.id = 'order_' || i;
INSERT INTO transitions (entity_type, entity_id, seq, from_state, to_state, trigger, at)
SELECT 'payment', p.id, 1, NULL, 'pending', 'create', p.created_at FROM payments p
UNION ALL
SELECT 'payment', p.id, 2, 'pending', CASE WHEN p.status = 'failed' THEN 'failed' ELSE 'success'
       END, CASE WHEN p.status = 'failed' THEN 'fail' ELSE 'succeed' END,
       p.created_at + interval '2 seconds' FROM payments p
UNION ALL
SELECT 'payment', p.id, 3, 'success', 'success', 'capture', p.created_at + interval '62 seconds'
FROM payments p WHERE p.captured;
ANALYZE merchants;
ANALYZE orders;
ANALYZE payments;
ANALYZE transitions;
"""

# (The fill: every third payment fails 2 s after its creation; the others succeed then and
# are captured a minute later.)
# The same counts the long way: the latest transition at or before the instant, per object.
NAIVE = """
SELECT h.to_state AS status, count(*) AS n FROM (
  SELECT DISTINCT ON (t.entity_id) t.entity_id, t.to_state FROM transitions t
  WHERE t.entity_type = 'payment' AND t.at <= %(at)s ORDER BY t.entity_id, t.seq DESC) h
JOIN payments p ON p.id = h.entity_id
WHERE (%(merchant_id)s::uuid IS NULL OR p.merchant_id = %(merchant_id)s::uuid)
GROUP BY h.to_state
"""


@pytest.fixture(scope="module")
def filled(base_settings: Settings) -> str:
    settings = separate_databases(base_settings, "paystate_counts_as_of", redis_db=6,
                                  seed=False)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        params = {"start": START, "merchants": MERCHANTS, "payments": PAYMENTS}
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(statement, params if "%(" in statement else None)
        n = conn.execute("SELECT count(*) FROM transitions").fetchone()
    assert n is not None and n[0] == 100_000
    return settings.database_url


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for child in node.get("Plans", []) for n in plan_nodes(child)]


@pytest.mark.parametrize("merchant", [7, None])
@pytest.mark.parametrize("hours", [0.5, 5, 9.99, 11])
def test_counts_as_of_equal_the_latest_transition_per_object(
        filled: str, merchant: int | None, hours: float) -> None:
    at = START + timedelta(hours=hours)
    mid = None if merchant is None else f"00000000-0000-0000-0000-{merchant:012d}"
    params = {"at": at, "merchant_id": mid, "livemode": False}
    with psycopg.connect(filled, row_factory=dict_row) as conn:
        conn.execute(NO_JIT)  # as counts_as_of runs it
        began = time.perf_counter()
        rows = conn.execute(counts_sql(mid is not None, True), params).fetchall()
        took = time.perf_counter() - began
        expected = {r["status"]: r["n"] for r in conn.execute(NAIVE, params).fetchall()}
        explain = conn.execute(b"EXPLAIN (ANALYZE, FORMAT JSON) "
                               + counts_sql(mid is not None, True).encode(), params).fetchone()
    got = {r["status"]: r["n"] for r in rows if r["machine"] == "payment"}
    assert got == expected
    if mid is None:
        assert sum(got.values()) == min(PAYMENTS, int(hours * 3600))
    assert explain is not None
    plan = explain["QUERY PLAN"][0]["Plan"]
    scans = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name"))
             for n in plan_nodes(plan) if "Scan" in n["Node Type"]]
    assert ("Seq Scan", "transitions", None) not in scans, json.dumps(scans)
    if mid is not None:
        assert not any(kind == "Seq Scan" and table == "payments" for kind, table, _ in scans)
    # Generous for two shared cores; measured 5-20 ms (one merchant), 20-150 ms (all).
    assert took < 1.0, took
