"""The cluster the chaos run abuses: its own PostgreSQL and Redis (a ``scripts/services.sh``
instance), two ``paystate api`` and two ``paystate worker`` processes, a supervisor that
restarts whichever dies, and the faults: kill -9 of a gateway process, Redis restarted empty,
PostgreSQL stopped (fast) and started again.

Every fault is written to ``faults`` with its time, for the report and for the schedule check
(an attempt late because its worker was killed holding the lease is excused, and counted).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICES = os.path.join(ROOT, "scripts", "services.sh")


@dataclass
class Fault:
    at: float
    kind: str  # kill9 | redis_restart | pg_restart
    detail: str
    until: float | None = None  # when the service answered again (restarts)


class Services:
    """One ``scripts/services.sh`` instance, with the two restarts the run needs."""

    def __init__(self, name: str, pg_port: int, redis_port: int) -> None:
        self.name, self.pg_port, self.redis_port = name, pg_port, redis_port
        self.database_url = ""
        self.redis_url = ""

    def up(self) -> None:
        out = subprocess.run([SERVICES, "up", self.name, str(self.pg_port), str(self.redis_port)],
                             check=True, capture_output=True, text=True, timeout=120).stdout
        for line in out.splitlines():
            key, _, value = line.partition("=")
            if key == "DATABASE_URL":
                self.database_url = value
            elif key == "REDIS_URL":
                self.redis_url = value

    def down(self) -> None:
        subprocess.run([SERVICES, "down", self.name], check=False, timeout=120)

    def restart_redis_empty(self) -> None:
        """SHUTDOWN NOSAVE, then ``services.sh up`` starts it again with nothing in it: every
        stream, consumer group, pending entry and heartbeat is gone."""
        client = redis.Redis.from_url(self.redis_url)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)
        _wait(lambda: not _redis_answers(self.redis_url), 10)
        self.up()

    def stop_postgres(self) -> None:
        """``pg_ctl stop -m fast``: sessions are cut, in-flight transactions roll back."""
        with psycopg.connect(self._admin_url(), autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        pg_ctl = max(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        command = [pg_ctl, "-D", row[0], "-m", "fast", "-w", "-t", "30", "stop"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, cwd="/", capture_output=True, timeout=60)

    def start_postgres(self) -> None:
        self.up()

    def _admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _wait(predicate: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@dataclass
class Proc:
    name: str  # api-1, worker-2, ...
    command: str  # api | worker
    port: int
    log_path: str
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    last_start: float = 0.0
    #: (went down, ready again) per kill -9; ready = its "paystate ready" line was written.
    down: list[list[float | None]] = field(default_factory=list)
    ready: bool = False
    _ready_lines: int = 0

    def check_ready(self) -> bool:
        """Has the current run written its ready line? Closes the open down interval."""
        if not self.ready:
            lines = self.ready_lines()
            if lines > self._ready_lines:
                self._ready_lines, self.ready = lines, True
                if self.down and self.down[-1][1] is None:
                    self.down[-1][1] = time.time()
        return self.ready

    def ready_lines(self) -> int:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().count(b"paystate ready")
        except OSError:
            return 0


@dataclass
class Cluster:
    services: Services
    env: dict[str, str]
    run_dir: str
    procs: list[Proc] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _supervise: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(self, name: str, command: str, port: int) -> None:
        self.procs.append(Proc(name, command, port, os.path.join(self.run_dir, name + ".log")))

    @property
    def api_bases(self) -> list[str]:
        return [f"http://127.0.0.1:{p.port}" for p in self.procs if p.command == "api"]

    def _start(self, proc: Proc) -> None:
        env = {**os.environ, **self.env, "PORT": str(proc.port)}
        with open(proc.log_path, "ab") as log:
            proc.popen = subprocess.Popen([sys.executable, "-m", "paystate", proc.command],
                                          env=env, cwd=ROOT, stdout=log, stderr=log)
        proc.starts += 1
        proc.last_start = time.monotonic()
        proc.ready = False

    def start(self) -> None:
        for proc in self.procs:
            self._start(proc)
        self._supervise.set()
        self._thread = threading.Thread(target=self._supervisor, name="supervisor", daemon=True)
        self._thread.start()

    def _supervisor(self) -> None:
        """Restart every process that died (a kill -9, or a start that failed because
        PostgreSQL was down), at most once a second each."""
        while self._supervise.is_set():
            with self._lock:
                for proc in self.procs:
                    dead = proc.popen is None or proc.popen.poll() is not None
                    if dead and time.monotonic() - proc.last_start > 1.0:
                        self._start(proc)
                    proc.check_ready()
            time.sleep(0.1)

    def wait_ready(self, timeout: float = 60) -> bool:
        """Every process wrote its ready line and every API process answers /health 200."""
        import requests

        def ready() -> bool:
            with self._lock:
                if not all(proc.check_ready() for proc in self.procs):
                    return False
            for base in self.api_bases:
                try:
                    if requests.get(base + "/health", timeout=2).status_code != 200:
                        return False
                except requests.RequestException:
                    return False
            return True
        return _wait(ready, timeout)

    def stop(self) -> None:
        self._supervise.clear()
        if self._thread is not None:
            self._thread.join(5)
        for proc in self.procs:
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs:
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(20)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)

    # -- faults --------------------------------------------------------------------------

    def kill9(self, rng: random.Random) -> Fault | None:
        """SIGKILL a random process among those up and ready (one still starting after the
        last kill is left alone: killing it again would only starve the cluster)."""
        with self._lock:
            alive = [p for p in self.procs if p.popen is not None and p.popen.poll() is None
                     and p.check_ready()]
            if not alive:
                return None
            victim = rng.choice(alive)
            assert victim.popen is not None
            victim.popen.send_signal(signal.SIGKILL)
            victim.popen.wait(10)
            fault = Fault(time.time(), "kill9", victim.name)
            victim.down.append([fault.at, None])
        self.faults.append(fault)
        return fault

    def restart_redis(self) -> Fault:
        fault = Fault(time.time(), "redis_restart", "SHUTDOWN NOSAVE, then start empty")
        self.faults.append(fault)
        self.services.restart_redis_empty()
        fault.until = time.time()
        return fault

    def restart_postgres(self, down_s: float) -> Fault:
        fault = Fault(time.time(), "pg_restart", f"pg_ctl stop -m fast, {down_s:.0f} s down")
        self.faults.append(fault)
        self.services.stop_postgres()
        time.sleep(down_s)
        self.services.start_postgres()
        fault.until = time.time()
        return fault

    def workers_down(self) -> list[tuple[str, float, float]]:
        """(worker, down from, ready again) for every kill -9 of a worker."""
        end = time.time()
        return [(p.name, d[0] or 0.0, d[1] or end) for p in self.procs
                if p.command == "worker" for d in p.down]

    def downtime(self) -> dict[str, float]:
        """Restart times (kill -9 to ready) and the seconds with no API / no worker up."""
        end = time.time()
        spans = {kind: [(d[0] or 0.0, d[1] or end) for p in self.procs if p.command == kind
                        for d in p.down] for kind in ("api", "worker")}
        restarts = sorted(u - d for both in spans.values() for d, u in both)
        out = {"restart_median_s": round(restarts[len(restarts) // 2], 1) if restarts else 0.0,
               "restart_max_s": round(restarts[-1], 1) if restarts else 0.0}
        for kind, intervals in spans.items():
            points = sorted({t for span in intervals for t in span})
            out[f"no_{kind}_s"] = round(sum(
                b - a for a, b in itertools.pairwise(points)
                if sum(1 for d, u in intervals if d <= a and b <= u) >= 2), 1)
        return out

    def restarts(self) -> int:
        return sum(max(0, p.starts - 1) for p in self.procs)

    def log_errors(self) -> dict[str, int]:
        """Tracebacks per process log: a 500 with a trace shows up here."""
        counts = {}
        for proc in self.procs:
            try:
                with open(proc.log_path, errors="replace") as f:
                    counts[proc.name] = f.read().count("Traceback (most recent call last)")
            except OSError:
                counts[proc.name] = 0
        return counts


def run_faults(cluster: Cluster, seconds: float, rng: random.Random, stop: threading.Event,
               kill_every: tuple[float, float] = (3.0, 6.0), pg_down_s: float = 2.0) -> None:
    """The fault schedule over ``seconds``: a kill -9 every few seconds, Redis restarted empty
    once (at about a third), PostgreSQL restarted once (at about two thirds)."""
    start = time.monotonic()
    redis_at, pg_at = seconds * 0.35, seconds * 0.65
    redis_done = pg_done = False
    next_kill = start + rng.uniform(*kill_every)
    while not stop.is_set():
        now = time.monotonic()
        if now - start >= seconds:
            return
        if not redis_done and now - start >= redis_at:
            redis_done = True
            cluster.restart_redis()
        elif not pg_done and now - start >= pg_at:
            pg_done = True
            cluster.restart_postgres(pg_down_s)
        elif now >= next_kill:
            cluster.kill9(rng)
            next_kill = now + rng.uniform(*kill_every)
        stop.wait(0.1)
