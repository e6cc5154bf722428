"""``paystate serve|api --processes N``: N gateway processes sharing one port.

One Python process has one GIL for its event loop and every actor thread, so on a machine with
several cores the gateway runs one full process per core. Each child binds the port with
``SO_REUSEPORT`` (the kernel spreads connections over them) and owns its shards, publisher and
consumers; PostgreSQL's compare-and-set already decides between processes, exactly as between
separately started ``api`` and ``worker`` processes.

The parent only migrates once, starts the children, restarts one that dies (a crash must not
leave the port half-served), and passes SIGINT/SIGTERM on. Children get SIGTERM if the parent
itself dies (Linux ``PR_SET_PDEATHSIG``), so no orphan keeps the port.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from types import FrameType

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


def supervise(command: str, processes: int, log_level: str) -> int:
    """Run ``processes`` children of ``paystate COMMAND --processes 1 --reuse-port`` until
    SIGINT/SIGTERM; return the exit status."""
    argv = [sys.executable, "-m", "paystate", command, "--processes", "1", "--reuse-port",
            "--log-level", log_level]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def spawn() -> tuple[subprocess.Popen[bytes], float]:
        # The supervisor runs no threads, so preexec_fn is safe here.
        return (subprocess.Popen(argv, preexec_fn=_die_with_parent),  # noqa: PLW1509
                time.monotonic())

    children = [spawn() for _ in range(processes)]
    print(f"paystate supervising {processes} {command} processes", flush=True)
    status = 0
    while not stopping:
        time.sleep(0.2)
        for i, (child, started) in enumerate(children):
            code = child.poll()
            if code is None or stopping:
                continue
            if time.monotonic() - started < MIN_UPTIME_S:
                log.error("a %s process exited (%s) right after starting; stopping", command,
                          code)
                stopping, status = True, 1
                break
            log.warning("a %s process exited (%s); starting another", command, code)
            children[i] = spawn()
    for child, _started in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child, _started in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
    return status
