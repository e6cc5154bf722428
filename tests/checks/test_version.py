"""One version, written once in ``paystate.__version__``: the package metadata and the command
line show that one (``/health`` too: tests/integration/test_health.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import paystate
from tests.support import ROOT


def test_the_version_is_written_once_and_the_metadata_reads_it() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", paystate.__version__)
    project = tomllib.loads((Path(ROOT) / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "paystate.__version__"}
    assert version("paystate") == paystate.__version__
    changelog = (Path(ROOT) / "CHANGELOG.md").read_text()
    assert f"## [{paystate.__version__}]" in changelog


def test_paystate_version_prints_it() -> None:
    done = subprocess.run([sys.executable, "-m", "paystate", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"paystate {paystate.__version__}"
