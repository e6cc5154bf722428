"""What one HTTP process keeps of the objects it created: a bounded cache, not all of them.

100,000 orders through one ``paystate serve`` process (``PAYSTATE_PROCESSES=1``) (wrk, a process of its own, as the load),
measured after a warm-up: the process's RSS stays within a stated bound. Before the shards'
create paths went through the cache's eviction, every object a process created stayed in its
memory for good."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from paystate.config import Settings
from tests.support import ProcessGateway, process_env

SCRIPT = os.path.join(os.path.dirname(__file__), "wrk", "create_order.lua")
BOUND_MB = 30  # over the warmed process, after 100,000 creates


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024  # type: ignore[union-attr]


def create_orders(url: str, at_least: int) -> int:
    """Run wrk until it has made at least ``at_least`` creates; return how many it made."""
    made = 0
    while made < at_least:
        out = subprocess.run(["wrk", "-t", "2", "-c", "16", "-d", "10s", "-s", SCRIPT, url],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        m = re.search(r"RESULT requests=(\d+) non2xx=(\d+)", out)
        assert m, out
        assert int(m.group(2)) == 0, out
        made += int(m.group(1))
    return made


@pytest.mark.slow
def test_100k_creates_leave_one_http_process_within_its_bound(settings: Settings) -> None:
    env = process_env(settings, PAYSTATE_PROCESSES="1", PAYSTATE_SHARDS="8",
                      MERCHANT_RATE_LIMIT="100000000/minute")
    gw = ProcessGateway(env).start()  # serve, one process: HTTP and the worker parts
    try:
        assert gw.proc is not None
        create_orders(gw.url, 10_000)
        warmed = rss_mb(gw.proc.pid)
        made = create_orders(gw.url, 100_000)
        after = rss_mb(gw.proc.pid)
        print(f"RSS warmed {warmed:.1f} MB, after {made} more creates {after:.1f} MB")
        assert after - warmed <= BOUND_MB, (warmed, after, made)
    finally:
        gw.stop()
