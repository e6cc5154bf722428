"""machines/ is pure domain: it imports no I/O library and nothing from engine/ or http/."""

from __future__ import annotations

import ast
import pathlib

import paystate.machines

FORBIDDEN = ("psycopg", "psycopg_pool", "redis", "tornado", "pykka", "aiohttp", "requests",
             "socket", "threading", "asyncio", "time", "random", "uuid", "secrets",
             "paystate.engine", "paystate.http", "paystate.dashboard")
# Reading the clock: an import scan never sees ``datetime.now()``, so calls are scanned too.
CLOCK_CALLS = ("now", "utcnow", "today", "time", "monotonic")


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against paystate.machines
                base = "paystate.machines" if node.level == 1 else "paystate"
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.add(node.module)
    return names


def test_machines_import_no_io_and_no_engine_or_http() -> None:
    folder = pathlib.Path(paystate.machines.__file__).parent
    files = sorted(folder.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in imported_modules(path):
            for bad in FORBIDDEN:
                assert not (name == bad or name.startswith(bad + ".")), f"{path.name} imports {name}"


def clock_calls(path: pathlib.Path) -> list[str]:
    return [node.func.attr for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_CALLS]


def test_machines_never_read_the_clock() -> None:
    folder = pathlib.Path(paystate.machines.__file__).parent
    for path in sorted(folder.glob("*.py")):
        assert clock_calls(path) == [], f"{path.name} reads the clock"


def test_the_clock_scan_catches_a_call(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from datetime import datetime, date\nx = datetime.now()\n"
                   "y = date.today()\n")
    assert clock_calls(bad) == ["now", "today"]


def test_the_scan_catches_a_forbidden_import(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import psycopg\nfrom ..engine import shard\n")
    names = imported_modules(bad)
    assert "psycopg" in names and "paystate.engine" in names
