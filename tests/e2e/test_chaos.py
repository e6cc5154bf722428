"""The chaos run, 45 seconds of it: kill -9 of API and worker processes every few seconds, Redis
restarted empty, PostgreSQL restarted, under a load of orders, payments, captures, refunds and
flaky webhook deliveries; then every invariant of ``bench/chaos.py`` must hold.

It stops and restarts its servers, so it runs on a services instance of its own
(``chaostest``, on the test ports + 20), never on the one the rest of the suite shares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

SECONDS = 45


def test_chaos_45s_loses_nothing(tmp_path: Path) -> None:
    pg = int(os.environ.get("PAYSTATE_TEST_PG_PORT", "54339")) + 20
    rd = int(os.environ.get("PAYSTATE_TEST_REDIS_PORT", "63809")) + 20
    numbers = tmp_path / "chaos.json"
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "chaos.py"), "--seconds", str(SECONDS),
         "--instance", "chaostest", "--pg-port", str(pg), "--redis-port", str(rd),
         "--drain-timeout", "180", "--json", str(numbers)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 420)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    report = json.loads(numbers.read_text())
    assert report["drained"] and not report["failed"]
    # The faults really happened: without them the run proves nothing.
    assert sum(report["kill9"].values()) >= 5
    assert [o["kind"] for o in report["outages"]] == ["redis_restart", "pg_restart"]
    created = report["creates"]
    assert created["order"] >= 20 and created["payment"] >= 20 and created["refund"] >= 5
