"""The command line: migrate and seed are idempotent; unknown commands are refused; ``serve
--processes N`` runs N HTTP processes and one worker, and replaces one that dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from paystate.config import Settings
from paystate.supervisor import MIN_UPTIME_S
from tests.support import ROOT, ProcessGateway, process_env, wait_until


def run(*args: str, settings: Settings, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           **extra}
    return subprocess.run([sys.executable, "-m", "paystate", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def test_migrate_and_seed_are_idempotent(base_settings: Settings) -> None:
    first = run("migrate", settings=base_settings)
    assert first.returncode == 0 and "up to date" in first.stdout
    # The demo merchant only where it is asked for (tests/e2e/test_demo_merchant.py: not else).
    seeded = run("seed", settings=base_settings, SEED_TEST_MERCHANT="true")
    assert seeded.returncode == 0 and "test@example.com" in seeded.stdout
    assert run("seed", settings=base_settings, SEED_TEST_MERCHANT="true").returncode == 0


def test_unknown_command_and_bad_setting(base_settings: Settings) -> None:
    assert run("explode", settings=base_settings).returncode == 2
    env = {**os.environ, "PORT": "not-a-number"}
    bad = subprocess.run([sys.executable, "-m", "paystate", "migrate"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "PORT must be an integer" in bad.stderr


def children(pid: int, flag: str = "") -> dict[int, str]:
    """The supervisor's running children: pid -> paystate command, + ``flag`` when the child
    was given it (a killed child not yet reaped has no command line, and is left out). A
    forked child's command line is its title, "paystate api --reuse-port --webhooks" in one
    string, so words are split at spaces as well as NULs."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        pids = [int(p) for p in f.read().split()]
    commands = {}
    for child in pids:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                argv = f.read().replace(b"\0", b" ").split()
        except FileNotFoundError:
            continue
        if b"paystate" in argv:
            command = argv[argv.index(b"paystate") + 1].decode()
            commands[child] = command + (flag if flag and flag.strip().encode() in argv else "")
    return commands


def test_serve_processes_runs_http_children_beside_one_worker_and_replaces_it(
        settings: Settings) -> None:
    gw = ProcessGateway(process_env(settings, TEST_PROCESSING_DELAY="50"),
                        command="serve --processes 2").start()
    try:
        assert gw.proc is not None
        first = children(gw.proc.pid)
        assert sorted(first.values()) == ["api", "api", "worker"]
        # The HTTP children deliver webhooks too; settlement is the worker's alone.
        assert sorted(children(gw.proc.pid, " --webhooks").values()) == \
            ["api --webhooks", "api --webhooks", "worker"]
        # Settlement runs in the worker child only: a payment through the port settles.
        paid = gw.client.upi_payment(gw.client.order()["id"])
        assert gw.client.wait_payment(paid["id"])["status"] == "success"

        (worker,) = [pid for pid, name in first.items() if name == "worker"]
        started = time.monotonic()
        # A child that dies right after its start stops the supervisor instead; be past that.
        wait_until(lambda: time.monotonic() - started > MIN_UPTIME_S, MIN_UPTIME_S + 5, 0.2,
                   "the worker's minimum uptime")
        os.kill(worker, signal.SIGKILL)

        def replaced() -> dict[int, str] | None:
            now = children(gw.proc.pid)  # type: ignore[union-attr]
            return now if sorted(now.values()) == ["api", "api", "worker"] \
                and worker not in now else None
        now = wait_until(replaced, 20, 0.2, "a new worker")
        assert {p for p, n in now.items() if n == "api"} == \
            {p for p, n in first.items() if n == "api"}
        again = gw.client.upi_payment(gw.client.order()["id"])
        assert gw.client.wait_payment(again["id"])["status"] == "success"
    finally:
        gw.stop()
