"""The command line: migrate and seed are idempotent; unknown commands are refused."""

from __future__ import annotations

import os
import subprocess
import sys

from paystate.config import Settings
from tests.support import ROOT


def run(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    return subprocess.run([sys.executable, "-m", "paystate", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def test_migrate_and_seed_are_idempotent(base_settings: Settings) -> None:
    first = run("migrate", settings=base_settings)
    assert first.returncode == 0 and "up to date" in first.stdout
    seeded = run("seed", settings=base_settings)
    assert seeded.returncode == 0 and "test@example.com" in seeded.stdout
    assert run("seed", settings=base_settings).returncode == 0


def test_unknown_command_and_bad_setting(base_settings: Settings) -> None:
    assert run("explode", settings=base_settings).returncode == 2
    env = {**os.environ, "PORT": "not-a-number"}
    bad = subprocess.run([sys.executable, "-m", "paystate", "migrate"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "PORT must be an integer" in bad.stderr
