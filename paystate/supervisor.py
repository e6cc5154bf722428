"""``paystate serve|api --processes N``: N HTTP processes sharing one port, and for ``serve`` one
worker process beside them.

One Python process has one GIL for its event loop and every actor thread, so on a machine with
several cores the gateway runs several processes. Each HTTP child binds the port with
``SO_REUSEPORT`` (the kernel spreads connections over them) and owns its shards and publisher;
PostgreSQL's compare-and-set already decides between processes. ``serve`` adds one ``worker``
child (settlement, relay, sweepers, webhooks): measured, those threads took the GIL from the
HTTP thread when every process ran them, and an ``api`` x N + ``worker`` layout served more
creates than N full ``serve`` processes. ``serve``'s HTTP children still deliver webhooks
(``api --webhooks``): with the worker's one webhook actor alone, a payment's webhook waited
behind the writes of its earlier events (payment-to-webhook p50 40-56 ms instead of 20-27).

The parent only migrates once (``paystate migrate`` as a child process of its own: the parent
itself never imports psycopg or the app, so it stays a small process), starts the children, restarts one that dies (a crash must not
leave the port half-served), and passes SIGINT/SIGTERM on. Children get SIGTERM if the parent
itself dies (Linux ``PR_SET_PDEATHSIG``), so no orphan keeps the port.

Metrics: the parent makes one fresh directory per run and puts it in every child's environment
as ``PROMETHEUS_MULTIPROC_DIR``; the children are new interpreters (exec, not fork), so it is
there before they import prometheus_client. A scrape of any HTTP child then shows every child,
the worker's settlements and webhook attempts included (``engine/metrics.py``). The parent
forgets a dead child's live gauges before starting its replacement and removes the directory
when it exits.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from .engine import metrics_dir as metrics

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
# A child that dies sooner than this after its start is not restarted in a loop.
MIN_UPTIME_S = 5.0


def _die_with_parent() -> None:
    """In the child, before exec: be sent SIGTERM when the parent dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the children outlive a killed parent


def child_commands(command: str, processes: int) -> list[list[str]]:
    """The children of ``paystate COMMAND --processes N``, as their arguments: N HTTP
    processes (``api`` sharing the port; ``serve``'s also deliver webhooks), and for ``serve``
    one ``worker``."""
    http = ["api", "--reuse-port"] + (["--webhooks"] if command == "serve" else [])
    return [http] * processes + ([["worker"]] if command == "serve" else [])


def supervise(command: str, processes: int, log_level: str, banner: list[str]) -> int:
    """Run the children of ``paystate COMMAND --processes N`` until SIGINT/SIGTERM; return the
    exit status. ``banner``: lines printed once the children are started (the addresses)."""
    # Once, before the children race for it.
    migrated = subprocess.run([sys.executable, "-m", "paystate", "migrate", "--log-level",
                               log_level], stdout=subprocess.DEVNULL, check=False)
    if migrated.returncode != 0:
        log.error("the migrations failed (%s); not starting", migrated.returncode)
        return migrated.returncode
    with metrics.run_directory() as metrics_dir:
        return _supervise(command, processes, log_level, banner, metrics_dir)


def _supervise(command: str, processes: int, log_level: str, banner: list[str],
               metrics_dir: str) -> int:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Replaces any directory inherited from our own environment: this run's children only.
    env = {**os.environ, metrics.MULTIPROC_DIR_ENV: metrics_dir}

    def spawn(args: list[str]) -> tuple[list[str], subprocess.Popen[bytes], float]:
        argv = [sys.executable, "-m", "paystate", *args, "--processes", "1", "--log-level",
                log_level]
        # The supervisor runs no threads, so preexec_fn is safe here.
        return (args, subprocess.Popen(argv, env=env,
                                       preexec_fn=_die_with_parent),  # noqa: PLW1509
                time.monotonic())

    children = [spawn(args) for args in child_commands(command, processes)]
    print(f"paystate supervising {processes} HTTP processes"
          + (" and a worker" if command == "serve" else ""), flush=True)
    print("\n".join(banner), flush=True)
    status = 0
    while not stopping:
        time.sleep(0.2)
        for i, (args, child, started) in enumerate(children):
            code = child.poll()
            if code is None or stopping:
                continue
            metrics.process_exited(metrics_dir, child.pid)
            if time.monotonic() - started < MIN_UPTIME_S:
                log.error("a %s process exited (%s) right after starting; stopping", args[0],
                          code)
                stopping, status = True, 1
                break
            log.warning("a %s process exited (%s); starting another", args[0], code)
            children[i] = spawn(args)
    for _args, child, _started in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for _args, child, _started in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
    return status
