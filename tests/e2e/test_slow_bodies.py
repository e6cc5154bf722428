"""Unfinished request bodies cannot exhaust the gateway's memory (they took a process from 497 to
1,562 MB): bodies held at once are bounded, a body must arrive within its timeout, and a merchant
route refuses bad credentials before taking the body."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from paystate.config import Settings
from tests.support import ProcessGateway, process_env, rss_mb, wait_until

CONNECTIONS = 300
BODY = 1024 * 1024 - 1
BUDGET = 16 * 1024 * 1024


@pytest.fixture
def gateway(settings: Settings) -> Iterator[ProcessGateway]:
    env = process_env(settings, HTTP_BODY_BUFFER=str(BUDGET), HTTP_BODY_TIMEOUT="4",
                      PUBLIC_RATE_LIMIT="100000/minute")
    with ProcessGateway(env) as gw:
        yield gw


def open_unfinished(port: int) -> socket.socket:
    """A public payment whose body stops one byte short of its Content-Length."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"POST /api/v1/payments/public HTTP/1.1\r\nHost: t\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % BODY)
    sock.sendall(b" " * (BODY - 1))
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(4096) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_hundreds_of_unfinished_bodies_keep_memory_bounded(gateway: ProcessGateway) -> None:
    assert gateway.proc is not None
    pid = gateway.proc.pid
    gateway.client.get("/health")
    before = rss_mb(pid)
    with ThreadPoolExecutor(32) as pool:
        socks = list(pool.map(lambda _: open_unfinished(gateway.port), range(CONNECTIONS)))
    try:
        # Every body has been sent but one byte: what the server holds of them is bounded.
        held = rss_mb(pid)
        started = time.monotonic()
        health = requests.get(gateway.url + "/health", timeout=5)
        order = gateway.client.order()
        took = time.monotonic() - started
        assert health.status_code == 200 and order["status"] == "created"
        assert took < 3, f"other requests waited {took:.1f}s"
        # 300 MB of bodies arrived; without the bound the process grew by about that much.
        assert held - before < BUDGET / 2**20 + 60, (before, held)
        # The body timeout closes every unfinished request.
        wait_until(lambda: all(closed_by_server(s) for s in socks), 20, 0.2,
                   "the server to close the unfinished requests")
    finally:
        for s in socks:
            s.close()
    assert requests.get(gateway.url + "/health", timeout=5).status_code == 200


def test_bad_credentials_are_refused_before_the_body(gateway: ProcessGateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/orders HTTP/1.1\r\nHost: t\r\nX-Api-Key: key_test_abc123\r\n"
                     b"X-Api-Secret: wrong\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % BODY)
        # Not a byte of the body is sent: the answer must come anyway.
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]
    assert b"AUTHENTICATION_ERROR" in answer
