"""What the benchmarks share: start gateway processes on a free loopback port, wait for them,
and measure the memory of a process tree. Loopback only; every process is stopped after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} did not become healthy in {timeout:.0f}s")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f
                              if line.startswith("VmRSS:")) / 1024
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack.extend(int(c) for c in f.read().split())
        except (OSError, StopIteration):
            continue
    return total


@contextmanager
def gateway(mode: str, port: int, env: dict[str, str], processes: int) -> Iterator[list[int]]:
    """Gateway processes for ``mode``: "serve" (``serve --processes N``) or "split" (``api
    --processes N`` and one ``worker``). Yields their top-level pids; waits until healthy."""
    full_env = {**os.environ, **env, "PORT": str(port)}
    # "--processes 1" is left out, so that the script also measures builds from before it.
    procs_arg = ["--processes", str(processes)] if processes > 1 else []
    commands = [["serve", *procs_arg]] if mode == "serve" else \
        [["api", *procs_arg], ["worker"]]
    procs = [subprocess.Popen([sys.executable, "-m", "paystate", *cmd, "--log-level", "WARNING"],
                              env=full_env, start_new_session=True) for cmd in commands]
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        # Every child of a supervisor must be up before the load starts.
        time.sleep(0 if processes == 1 else 2)
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
