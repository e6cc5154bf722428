"""What the benchmarks share: an empty PostgreSQL and Redis pair, gateway processes (Paystate's,
or the reference gateway's for ``make bench-reference``) on a free loopback port, waiting for
them, and the memory and CPU time of process trees. Loopback only; every process is stopped
after."""

from __future__ import annotations

import os
import shutil
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


def _tree(pid: int) -> Iterator[int]:
    """``pid`` and all its descendants that are still running."""
    stack = [pid]
    while stack:
        p = stack.pop()
        yield p
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack.extend(int(c) for c in f.read().split())
        except OSError:
            continue


def smaps_rollup_kb(pid: int) -> dict[str, int]:
    """``/proc/PID/smaps_rollup``'s fields in kB (Rss, Pss, Pss_Anon, Pss_File, Anonymous,
    Shared_Clean, Private_Dirty, ...); empty when the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            lines = f.read().splitlines()[1:]  # the first line is the [rollup] range
    except OSError:
        return {}
    return {name.rstrip(":"): int(kb) for name, kb, *_ in (ln.split() for ln in lines)}


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (``VmRSS``'s figure)."""
    return sum(smaps_rollup_kb(p).get("Rss", 0) for p in _tree(pid)) / 1024


def tree_pss_mb(pid: int) -> float:
    """Proportional memory of ``pid`` and all its descendants, in MB: a page shared by k
    processes counts 1/k in each, so the sum over a tree is what the tree costs the machine,
    where ``tree_rss_mb`` counts a page once per process that maps it (a forked child's pages
    shared with its parent, the same libraries mapped by several processes)."""
    return sum(smaps_rollup_kb(p).get("Pss", 0) for p in _tree(pid)) / 1024


def tree_processes(pid: int) -> list[tuple[int, str]]:
    """(pid, role) of ``pid`` and its descendants, as ``_role`` names them."""
    return [(p, _role(p)) for p in _tree(pid)]


def _role(pid: int) -> str:
    """A gateway process's command (api, worker, serve), else its program name. A forked child
    has a title instead of its command line ("paystate api --reuse-port --webhooks": one
    string, not NUL-separated words), so the words are split at spaces too."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().replace(b"\0", b" ").split()]
    except OSError:
        return "gone"
    if "paystate" in argv and argv.index("paystate") + 1 < len(argv):
        return argv[argv.index("paystate") + 1]
    return os.path.basename(argv[0]) if argv else "gone"


def cpu_seconds(roots: list[tuple[str, int]]) -> dict[str, float]:
    """CPU time (user + system, in seconds) of each named process tree. A gateway tree is
    split by process command ("gateway api", "gateway worker", ...). A parent's counters of
    waited-for children keep the time of children that exited (PostgreSQL backends)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for name, root in roots:
        for pid in _tree(root):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # utime, stime, cutime, cstime: fields 14-17 of proc(5), 11-14 after the name.
            spent = sum(int(x) for x in fields[11:15]) / tick
            group = f"{name} {_role(pid)}" if name == "gateway" else name
            totals[group] = totals.get(group, 0.0) + spent
    return totals


def machine_cpu_seconds() -> float:
    """CPU time all processes of the machine spent so far (every core's busy time, in seconds):
    beside ``cpu_seconds`` of what a bench runs, it shows how much other processes took."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def service_pids(database_url: str, redis_url: str) -> list[tuple[str, int]]:
    """The PostgreSQL postmaster (the parent of a backend) and the Redis server the URLs
    reach, for ``cpu_seconds``; loopback services only."""
    import psycopg
    import redis

    with psycopg.connect(database_url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        # While the connection is open: once closed, its backend exits and /proc forgets it.
        with open(f"/proc/{backend}/stat") as f:
            postmaster = int(f.read().rsplit(")", 1)[1].split()[1])
    client = redis.Redis.from_url(redis_url)
    try:
        redis_pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return [("PostgreSQL", postmaster), ("Redis", redis_pid)]


@contextmanager
def gateway(mode: str, port: int, env: dict[str, str], processes: int) -> Iterator[list[int]]:
    """Gateway processes for ``mode``: "serve" (``serve --processes N``) or "split" (``api
    --processes N`` and one ``worker``). Yields their top-level pids; waits until healthy."""
    # The count goes in the environment too: "--processes 1" is left out of the command line,
    # so that the script also measures builds from before the flag, and without the variable
    # the gateway would start its default (the CPU count) instead of one.
    full_env = {**os.environ, **env, "PORT": str(port), "PAYSTATE_PROCESSES": str(processes)}
    # No process seeds on start-up any more: the demo merchant whose keys the load uses is
    # made here (TEST_MODE=true in ``env`` lets ``paystate seed`` make it; it migrates too).
    subprocess.run([sys.executable, "-m", "paystate", "seed", "--log-level", "WARNING"],
                   env=full_env, check=True, stdout=subprocess.DEVNULL)
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
        _stop(procs)


SERVICES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "scripts", "services.sh")


@contextmanager
def services(name: str, pg_port: int, redis_port: int) -> Iterator[dict[str, str]]:
    """An empty PostgreSQL and Redis instance ``name`` of scripts/services.sh (its data deleted
    first: what a previous run left behind is load too); yields {"DATABASE_URL", "REDIS_URL"}
    and stops both after."""
    subprocess.run([SERVICES, "clean", name], check=True)
    try:
        out = subprocess.run([SERVICES, "up", name, str(pg_port), str(redis_port)], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        yield dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    finally:
        subprocess.run([SERVICES, "down", name], check=False)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


@contextmanager
def reference_gateway(checkout: str, port: int, env: dict[str, str]) -> Iterator[list[int]]:
    """The reference gateway (github.com/NagaSaiTejo/payment-gateway-async) from the checkout
    at ``checkout``, run natively: its API (``node src/app.js``, which creates its schema and
    test merchant on start) and then its worker (``node src/workers/index.js``), with ``env``
    (DATABASE_URL, REDIS_URL, TEST_MODE, ...). Installs its npm dependencies into its own
    backend/ folder when they are missing. Yields the two pids; waits until healthy."""
    backend = os.path.join(checkout, "backend")
    if not os.path.isfile(os.path.join(backend, "src", "app.js")):
        raise SystemExit(f"{checkout} is not a checkout of the reference gateway (no"
                         " backend/src/app.js)")
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed (the reference gateway needs Node 18 or newer)")
    if not os.path.isdir(os.path.join(backend, "node_modules")):
        print(f"npm install in {backend} (the reference's own folder)", flush=True)
        subprocess.run(["npm", "install", "--omit=dev", "--no-audit", "--no-fund"], cwd=backend,
                       check=True, stdout=subprocess.DEVNULL)
    # Its .env files are not read: dotenv never overrides a variable that is already set.
    full_env = {**os.environ, **env, "PORT": str(port)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # The API first: its start-up migrates and seeds, which the worker assumes done. Its
        # per-job console lines are part of its work; they go nowhere, as Paystate's do at
        # --log-level WARNING.
        procs.append(subprocess.Popen([node, "src/app.js"], cwd=backend, env=full_env,
                                      stdout=subprocess.DEVNULL, start_new_session=True))
        wait_healthy(f"http://127.0.0.1:{port}")
        procs.append(subprocess.Popen([node, "src/workers/index.js"], cwd=backend,
                                      env=full_env, stdout=subprocess.DEVNULL,
                                      start_new_session=True))
        time.sleep(1)  # the worker connects to Redis before the load starts
        yield [p.pid for p in procs]
    finally:
        _stop(procs)
