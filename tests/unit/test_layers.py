"""The layers' seams, read from the imports: the fronts (``http/``, ``dashboard/``) reach the
engine only through its bridges and their public types, and ``engine/`` imports no front."""

from __future__ import annotations

import ast
import pathlib

import paystate

PACKAGE = pathlib.Path(paystate.__file__).parent
# What a front may import from the engine: the bridges, which re-export the types they take
# and return.
BRIDGES = {"paystate.engine.bridge", "paystate.engine.webhooks.bridge",
           "paystate.engine.dashboard_bridge", "paystate.engine.admin_bridge",
           "paystate.engine.ops_bridge"}


def imports(path: pathlib.Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            # ``from ..engine import bridge`` names the module in the alias.
            names.update(f"{module}.{a.name}" for a in node.names
                         if (PACKAGE.parent / f"{module}.{a.name}".replace(".", "/")).with_suffix(
                             ".py").exists())
    return names


def engine_imports(folder: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for name in imports(path):
            if name.startswith("paystate.engine") and name not in BRIDGES \
                    and not any(b.startswith(name + ".") for b in BRIDGES):
                found.append((str(path.relative_to(PACKAGE)), name))
    return found


def test_fronts_reach_the_engine_only_through_its_bridges() -> None:
    assert engine_imports("http") == []
    assert engine_imports("dashboard") == []
    assert engine_imports("ops") == []


def test_the_engine_and_the_machines_import_no_front() -> None:
    for folder in ("engine", "machines"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            for name in imports(path):
                assert not name.startswith(("paystate.http", "paystate.dashboard",
                                            "paystate.ops")), (
                    path, name)


def test_the_scan_resolves_relative_imports() -> None:
    names = imports(PACKAGE / "http" / "base.py")
    assert {"paystate.engine.bridge", "paystate.http.errors"} <= names
