"""``paystate merchants create | list | suspend | reinstate`` as a subprocess, against the
deployed layout: the merchant it makes can pay at once, and a suspension made from the command
line reaches the running HTTP processes within 2 seconds (Redis pub/sub)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

from paystate.config import Settings
from tests.support import ROOT, Client, ProcessGateway, wait_until


def merchants(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "PAYSTATE_STREAM_PREFIX": settings.stream_prefix}
    return subprocess.run([sys.executable, "-m", "paystate", "merchants", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_create_list_suspend_reinstate_from_the_command_line(
        deployed_settings: Settings, deployed: ProcessGateway) -> None:
    url = deployed.url
    tag = uuid.uuid4().hex[:8]
    email = f"cli-{tag}@example.com"
    made = merchants("create", "--name", f"CLI {tag}", "--email", email,
                     settings=deployed_settings)
    assert made.returncode == 0, made.stderr
    account = json.loads(made.stdout)
    assert account["status"] == "active" and account["email"] == email
    live = account["keys"]["live"]
    client = Client(url, {"X-Api-Key": live["api_key"], "X-Api-Secret": live["api_secret"]})
    assert client.order()["livemode"] is True

    duplicate = merchants("create", "--name", "Again", "--email", email.upper(),
                          settings=deployed_settings)
    assert duplicate.returncode == 3 and "already exists" in duplicate.stderr

    listed = json.loads(merchants("list", settings=deployed_settings).stdout)
    assert account["id"] in {m["id"] for m in listed}
    assert live["api_secret"] not in json.dumps(listed)

    started = time.monotonic()
    assert merchants("suspend", account["id"], settings=deployed_settings).returncode == 0
    # Several requests, so that both HTTP processes of the layout answer at least once.
    for _ in range(4):
        wait_until(lambda: client.get("/api/v1/payments").status_code == 403, 2.0, 0.05,
                   "the suspension in every process")
    elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 1.5  # the subprocess's own start-up is most of it
    assert client.get("/api/v1/payments").json()["error"]["code"] == "ACCOUNT_SUSPENDED"

    assert merchants("reinstate", account["id"], settings=deployed_settings).returncode == 0
    wait_until(lambda: client.get("/api/v1/payments").status_code == 200, 2.0, 0.05,
               "the reinstatement in every process")
    assert merchants("suspend", str(uuid.uuid4()), settings=deployed_settings).returncode == 2


def test_the_command_line_defaults_to_the_services_make_run_starts() -> None:
    """No DATABASE_URL or REDIS_URL: the CLI reaches what `make run` started."""
    run_sh = (Path(ROOT) / "scripts" / "run.sh").read_text()
    pg, rd = re.search(r"up run (\d+) (\d+)", run_sh).groups()  # type: ignore[union-attr]
    settings = Settings.from_env({})
    assert settings.database_url == f"postgresql://paystate:paystate@127.0.0.1:{pg}/paystate"
    assert f":{rd}" in settings.redis_url
