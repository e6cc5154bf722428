"""The package stays ruff-clean and type-checks with mypy, checked on every run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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


def test_patterns_are_checked_against_the_whole_value() -> None:
    """``re.match`` with ``$`` lets a final newline through ("a@okbank\\n" was a valid VPA):
    every check in the package uses ``fullmatch``."""
    package = Path(ROOT) / "paystate"
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted(package.rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"(\bre|[A-Z_]|\))\.match\(", line)]
    assert not found, found
