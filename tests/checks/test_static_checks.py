"""The package stays ruff-clean and type-checks with mypy, checked on every run."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "paystate", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run("mypy", "paystate")
    assert result.returncode == 0, result.stdout + result.stderr
