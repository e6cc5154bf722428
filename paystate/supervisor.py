"""``paystate serve|api --processes N``: N HTTP processes sharing one port, and for ``serve`` one
worker process beside them.

One Python process has one GIL for its event loop and every actor thread, so on a machine with
several cores the gateway runs several processes. Each HTTP child binds the port with
``SO_REUSEPORT`` (the kernel spreads connections over them) and owns its shards and publisher;
PostgreSQL's compare-and-set already decides between processes. ``serve`` adds one ``worker``
child (settlement, sweepers, webhooks, the event log pruner): measured, those threads took the
GIL from the HTTP thread when every process ran them, and an ``api`` x N + ``worker`` layout served more
creates than N full ``serve`` processes. ``serve``'s HTTP children still deliver webhooks
(``api --webhooks``): with the worker's one webhook actor alone, a payment's webhook waited
behind the writes of its earlier events (payment-to-webhook p50 40-56 ms instead of 20-27).

The parent migrates once (``paystate migrate`` as a child process: no database connection of
its own), imports the app, and forks the children from itself, as gunicorn's ``--preload``
does, instead of starting a new interpreter for each: the app's modules, some 45 MB of Python
objects per process, are then pages the children share with the parent until one writes to
them. To keep them shared, the parent collects nothing while it imports (no freed holes among
the objects) and freezes what it imported (``gc.freeze``), so the children's collections never
write to those objects' headers. It must have no thread, connection or event loop when it
forks (a child would inherit a lock held by a thread it does not have, or a socket another
process also reads): it checks for threads, and the app starts nothing at import time. Each
child then runs ``paystate api --reuse-port [--webhooks]`` or ``paystate worker`` as the
command line would (``child``, which is ``__main__.main``), under a process title that says so
(setproctitle), and leaves with ``os._exit``: never through the parent's stack, whose exit
would remove the metrics directory.

The parent restarts a child that dies (a crash must not leave the port half-served) by forking
again, and passes SIGINT/SIGTERM on. Children get SIGTERM if the parent itself dies (Linux
``PR_SET_PDEATHSIG``), so no orphan keeps the port.

Metrics: the parent makes one fresh directory per run and puts it in its own environment as
``PROMETHEUS_MULTIPROC_DIR`` before it first imports prometheus_client (the library picks its
file-backed values at import), so the children, which inherit both, keep their values in the
directory's per-process files. A scrape of any HTTP child then shows every child, the worker's
settlements and webhook attempts included (``engine/metrics.py``). The parent forgets a dead
child's live gauges before starting its replacement and removes the directory when it exits.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from .engine import metrics_dir as metrics

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
# A child that dies sooner than this after its start is not restarted in a loop.
MIN_UPTIME_S = 5.0
# How long a stopping child may take (its requests get 10 s, then its actors stop).
STOP_WAIT_S = 30.0
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
#: The children's glibc malloc arenas, unless MALLOC_ARENA_MAX says otherwise.
MALLOC_ARENAS = 2


def _die_with_parent(parent: int) -> None:
    """In the child: be sent SIGTERM when the parent dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return  # not Linux: the children outlive a killed parent
    if os.getppid() != parent:  # it died before the line above: no signal will come
        os.kill(os.getpid(), signal.SIGTERM)


def limit_malloc_arenas() -> None:
    """At most ``MALLOC_ARENA_MAX`` (default ``MALLOC_ARENAS``) glibc malloc arenas in this
    process and the children it forks. glibc gives a thread that finds the arenas busy a new
    one, up to 8 per core, and each keeps its own free memory: the shard actors, publisher
    and pools are threads, and under load every extra arena held megabytes that the others
    could not reuse. The environment variable alone would not do: glibc reads it when a
    process starts, and forked children start from the parent's malloc, so the parent sets it
    for itself with ``mallopt`` as well (and in the environment, for what it runs)."""
    value = os.environ.setdefault("MALLOC_ARENA_MAX", str(MALLOC_ARENAS))
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, int(value))
    except (OSError, AttributeError, ValueError):
        pass  # not glibc, or a value glibc would ignore too


def child_commands(command: str, processes: int) -> list[list[str]]:
    """The children of ``paystate COMMAND --processes N``, as their arguments: N HTTP
    processes (``api`` sharing the port; ``serve``'s also deliver webhooks), and for ``serve``
    one ``worker``."""
    http = ["api", "--reuse-port"] + (["--webhooks"] if command == "serve" else [])
    return [http] * processes + ([["worker"]] if command == "serve" else [])


def preload() -> None:
    """Import what every child runs, before the first fork (see the module's docstring)."""
    import setproctitle  # noqa: F401
    import tornado.platform.asyncio  # noqa: F401  (imported when a child makes its IOLoop)
    import uvloop  # noqa: F401

    from . import server  # noqa: F401  (the app: bootstrap, engine, HTTP fronts)


def supervise(command: str, processes: int, log_level: str, banner: list[str],
              child: Callable[[list[str]], int]) -> int:
    """Run the children of ``paystate COMMAND --processes N`` until SIGINT/SIGTERM; return the
    exit status. ``banner``: lines printed once the children are started (the addresses).
    ``child(argv)``: runs one child's command line in the forked process and returns its exit
    status (``__main__.main``)."""
    # Once, before the children race for it.
    migrated = subprocess.run([sys.executable, "-m", "paystate", "migrate", "--log-level",
                               log_level], stdout=subprocess.DEVNULL, check=False)
    if migrated.returncode != 0:
        log.error("the migrations failed (%s); not starting", migrated.returncode)
        return migrated.returncode
    with metrics.run_directory() as metrics_dir:
        # Before anything imports prometheus_client; replaces any directory inherited from our
        # own environment: this run's children only.
        os.environ[metrics.MULTIPROC_DIR_ENV] = metrics_dir
        limit_malloc_arenas()
        gc.disable()
        try:
            preload()
        finally:
            gc.enable()
        return _supervise(command, processes, log_level, banner, metrics_dir, child)


@dataclass
class Child:
    args: list[str]
    pid: int
    started: float
    code: int | None = None

    def poll(self) -> int | None:
        """The exit status once the child has exited (reaped), else None."""
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.code


def fork_child(args: list[str], log_level: str, child: Callable[[list[str]], int]) -> Child:
    """Fork a child that runs ``paystate ARGS`` (``child``) and exits; returns it."""
    if threading.active_count() > 1:
        # A forked child would hold copies of the locks those threads hold, forever.
        raise RuntimeError(f"the supervisor runs threads {threading.enumerate()}; it must not"
                           " fork")
    argv = [*args, "--processes", "1", "--log-level", log_level]
    parent = os.getpid()
    sys.stdout.flush()  # or the child writes the parent's buffered lines again
    sys.stderr.flush()
    # The stop signals wait until the child has its own handlers: the parent's only set a
    # flag, which in the child would swallow a SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    gc.freeze()  # everything so far stays in the parent's pages (see the module's docstring)
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        return Child(args, pid, time.monotonic())
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        _die_with_parent(parent)
        from setproctitle import setproctitle

        setproctitle("paystate " + " ".join(args))
        code = child(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        code = 130
    except Exception:  # noqa: BLE001 - shown as an interpreter would; the child exits 1
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Never back through the parent's frames (its ``finally`` removes the metrics
        # directory), nor its atexit handlers.
        os._exit(code)


def _supervise(command: str, processes: int, log_level: str, banner: list[str],
               metrics_dir: str, child: Callable[[list[str]], int]) -> int:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = [fork_child(args, log_level, child)
                for args in child_commands(command, processes)]
    print(f"paystate supervising {processes} HTTP processes"
          + (" and a worker" if command == "serve" else ""), flush=True)
    print("\n".join(banner), flush=True)
    status = 0
    while not stopping:
        time.sleep(0.2)
        for i, c in enumerate(children):
            code = c.poll()
            if code is None or stopping:
                continue
            metrics.process_exited(metrics_dir, c.pid)
            if time.monotonic() - c.started < MIN_UPTIME_S:
                log.error("a %s process exited (%s) right after starting; stopping", c.args[0],
                          code)
                stopping, status = True, 1
                break
            log.warning("a %s process exited (%s); starting another", c.args[0], code)
            children[i] = fork_child(c.args, log_level, child)
    for c in children:
        if c.poll() is None:
            os.kill(c.pid, signal.SIGTERM)
    for c in children:
        if c.wait(STOP_WAIT_S) is None:
            os.kill(c.pid, signal.SIGKILL)
            c.wait(5)
    return status
