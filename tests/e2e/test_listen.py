"""``paystate listen``: a subprocess registers a temporary endpoint, prints every delivery with
its signature check, forwards it to a local server unchanged, and removes the endpoint when it
is stopped; a gateway that cannot be reached or refuses the endpoint is a clear exit 1."""

from __future__ import annotations

import hashlib
import hmac
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import pytest
from standardwebhooks import Webhook

from paystate.config import Settings
from paystate.testing import ReceivedWebhook, WebhookReceiver
from tests.support import AUTH, ROOT, Client, ThreadGateway, free_port, make_settings, wait_until

LISTEN_EVENTS = ("payment.created", "payment.pending", "payment.success")


def listen(api: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paystate", "listen", "--api", api,
         "--key", AUTH["X-Api-Key"], "--secret", AUTH["X-Api-Secret"], *extra],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class Lines:
    """A subprocess's output lines, read on a thread so that a wait can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            while not self._queue.empty():
                self.seen.append(self._queue.get_nowait())
            return next((m for m in map(re.compile(pattern).search, self.seen) if m), None)
        try:
            return wait_until(found, timeout, 0.05, pattern)
        except AssertionError:
            raise AssertionError(f"no line matching {pattern!r} in {self.seen}") from None


def listed(client: Client) -> list[dict[str, Any]]:
    r = client.get("/api/v1/webhook_endpoints")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]
    return [e for e in items if e.get("description") == "paystate listen"]


@pytest.fixture
def listen_gateway(base_settings: Settings) -> Iterator[ThreadGateway]:
    """A gateway in test mode (loopback endpoints allowed) on the shared test database, which
    ``base_settings`` migrated and seeded."""
    with ThreadGateway(make_settings(test_processing_delay_ms=100)) as gw:
        yield gw


def test_listen_prints_verifies_forwards_and_removes_its_endpoint(
        listen_gateway: ThreadGateway, paystate_webhook_receiver: WebhookReceiver) -> None:
    gw = listen_gateway
    proc = listen(gw.url, "--forward-to", paystate_webhook_receiver.url)
    lines = Lines(proc.stdout)  # type: ignore[arg-type]
    try:
        ready = lines.wait_for(r"Ready: endpoint (we_\w{16}) secret (whsec_\S+) ")
        endpoint, secret = ready.group(1), ready.group(2)
        assert [e["id"] for e in listed(gw.client)] == [endpoint]

        payment = gw.client.upi_payment(gw.client.order()["id"], vpa="success@paystate")
        for event in LISTEN_EVENTS:
            lines.wait_for(rf"\d\d:\d\d:\d\d +{re.escape(event)} +{payment['id']} +verified"
                           r" +-> 200")

        def forwarded() -> dict[str, ReceivedWebhook] | None:
            mine = {r.json()["event"]: r for r in paystate_webhook_receiver.requests
                    if r.json()["data"].get("payment", {}).get("id") == payment["id"]}
            return mine if set(LISTEN_EVENTS) <= set(mine) else None
        for event, request in wait_until(forwarded, 10, 0.05, "the forwards").items():
            Webhook(secret).verify(request.body, request.headers)  # raises when it fails
            assert request.headers["x-webhook-signature"] == hmac.new(
                secret.encode(), request.body, hashlib.sha256).hexdigest(), event
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    lines.wait_for(rf"Removed endpoint {endpoint}")
    assert proc.returncode == 0, lines.seen
    assert listed(gw.client) == []


def test_listen_says_why_it_cannot_start(base_settings: Settings) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    gone = subprocess.run([sys.executable, "-m", "paystate", "listen", "--api", unreachable],
                          cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert gone.returncode == 1
    assert "cannot reach the gateway" in gone.stderr and unreachable in gone.stderr

    # Outside test mode and without WEBHOOK_ALLOW_PRIVATE a loopback URL is refused, and the
    # API's description (which names the setting) is what the developer reads.
    with ThreadGateway(make_settings(test_mode=False, seed_test_merchant=True,
                                         webhook_allow_private=False)) as gw:
        refused = listen(gw.url)
        out, _ = refused.communicate(timeout=30)
    assert refused.returncode == 1 and "WEBHOOK_ALLOW_PRIVATE" in out, out
