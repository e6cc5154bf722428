"""The deployment files, checked without a Docker engine: docker-compose.yml against the Compose
specification's JSON schema and against the settings ``config.py`` reads; the Dockerfile's
instructions."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from paystate.config import Settings
from tests.support import ROOT

COMPOSE = Path(ROOT) / "docker-compose.yml"
DOCKERFILE = Path(ROOT) / "Dockerfile"
GATEWAY = ("migrate", "api", "worker")
# Set on purpose to something else than the default outside a container.
CONTAINER_VALUES = {"DATABASE_URL", "REDIS_URL", "HOST"}


class RecordingEnv(dict[str, str]):
    """An environment that remembers every name read from it."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


def settings_names() -> set[str]:
    env = RecordingEnv()
    Settings.from_env(env)
    return env.read


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.fail("check-jsonschema is missing: install the test extra (make venv)")
    done = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_services_start_in_order_on_healthy_dependencies() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", *GATEWAY}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis"):
        service = services[name]
        assert service["healthcheck"]["test"], name
        assert any(str(v).split(":")[0] in compose()["volumes"] for v in service["volumes"]), name

    migrate = services["migrate"]
    # seed applies the migrations first, then seeds only where the settings ask for it
    assert migrate["command"] == ["seed"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker"):
        service = services[name]
        assert service["command"] == [name]
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"}}, name
        check = service["healthcheck"]
        assert not check.get("disable") and check["test"][0] == "CMD", name
        assert isinstance(service["deploy"]["replicas"], int), name
    for name in GATEWAY:
        assert services[name]["build"] == "." and services[name]["image"] == "paystate:latest"

    api = services["api"]
    assert "/health" in " ".join(api["healthcheck"]["test"])
    port = api["environment"]["PORT"]
    assert [p.rsplit(":", 1)[1] for p in api["ports"]] == [port]
    assert f":{port}/health" in " ".join(api["healthcheck"]["test"])
    # The worker's check reads its own heartbeat under the configured prefix.
    assert "PAYSTATE_STREAM_PREFIX" in " ".join(services["worker"]["healthcheck"]["test"])


def test_compose_passes_every_setting_through_with_the_same_defaults() -> None:
    names = settings_names()
    assert {"DATABASE_URL", "REDIS_URL", "PORT", "TEST_MODE"} <= names  # the recorder works
    services = compose()["services"]
    for name in GATEWAY:
        env = services[name]["environment"]
        assert set(env) == names, (name, sorted(names ^ set(env)))

    defaults = Settings.from_env({})
    for name, value in services["api"]["environment"].items():
        match = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", str(value))
        if match is None:
            assert name in CONTAINER_VALUES | {"PORT"}, (name, value)
            continue
        assert match.group(1) == name, (name, value)
        assert Settings.from_env({name: match.group(2)}) == defaults, (name, match.group(2))
    assert Settings.from_env({"PORT": str(services["api"]["environment"]["PORT"])}) == defaults


def test_no_deployment_file_asks_for_the_demo_merchant() -> None:
    """Public credentials only where somebody asks for them: the compose file's default
    environment and the image's have neither setting on (``make run`` sets it instead)."""
    defaults = Settings.from_env({})
    assert not defaults.demo_merchant
    for name in GATEWAY:
        env = compose()["services"][name]["environment"]
        for setting in ("SEED_TEST_MERCHANT", "TEST_MODE"):
            assert env[setting] == f"${{{setting}:-false}}", (name, setting)
    envs = " ".join(args for kind, args in dockerfile_instructions() if kind in ("ENV", "ARG"))
    assert "SEED_TEST_MERCHANT" not in envs and "TEST_MODE" not in envs


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_dockerfile_slim_non_root_healthchecked_without_test_extras() -> None:
    instructions = dockerfile_instructions()
    kinds = [kind for kind, _ in instructions]
    [base] = [args for kind, args in instructions if kind == "FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base

    users = [args for kind, args in instructions if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")

    [check] = [args for kind, args in instructions if kind == "HEALTHCHECK"]
    assert "/health" in check and "CMD" in check

    installs = [args for kind, args in instructions if kind == "RUN" and "pip install" in args]
    assert installs, "the package is installed"
    for args in installs:
        assert "[test]" not in args and ".[" not in args, args
        assert not re.search(r"pip install[^&]*\s-e\s", args), "not an editable install"
    assert ("ENTRYPOINT", '["python", "-m", "paystate"]') in instructions
    assert ("EXPOSE", "8000") in instructions
