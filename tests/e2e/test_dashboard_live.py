"""Live updates scale: 200 event-stream clients on one process share ONE stream reader, all get
a payment's events, /health stays fast while they are connected, and once they hang up the
process holds nothing for them."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Iterator

import pytest
import redis
import requests

from paystate.config import Settings
from tests.e2e.test_dashboard import PASSWORD, new_operator
from tests.support import ThreadGateway, make_settings, wait_until

CLIENTS = 200


@pytest.fixture(scope="module")
def live_gw(base_settings: Settings) -> Iterator[ThreadGateway]:
    gateway = ThreadGateway(make_settings(test_processing_delay_ms=300)).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def sign_in(base: str, email: str, password: str = PASSWORD,
            http: requests.Session | None = None) -> requests.Response:
    """Post the login form (with the page's XSRF token) without following the redirect."""
    http = http or requests.Session()
    page = http.get(base + "/login", timeout=10).text
    token = re.search(r'name="xsrf-token" content="([^"]+)"', page)
    assert token is not None
    return http.post(base + "/login", data={"_xsrf": token.group(1), "email": email,
                                            "password": password},
                     allow_redirects=False, timeout=10)


def session_cookie(base: str, email: str) -> str:
    """Sign in and return the Cookie header that carries the session."""
    http = requests.Session()
    r = sign_in(base, email, http=http)
    assert r.status_code == 302, r.text
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


async def open_stream(port: int, cookie: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Accept: text/event-stream\r\nCookie: {cookie}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"text/event-stream" in head
    return reader, writer


async def read_until(reader: asyncio.StreamReader, needle: bytes) -> float:
    """Read the stream until ``needle`` appears; return when (monotonic)."""
    seen = b""
    while needle not in seen:
        chunk = await reader.read(65536)
        if not chunk:
            raise AssertionError("stream closed before the event arrived")
        seen = seen[-len(needle):] + chunk
    return time.monotonic()


def health_latencies(base: str, n: int = 20) -> list[float]:
    out = []
    with requests.Session() as http:
        for _ in range(n):
            started = time.monotonic()
            r = http.get(base + "/health", timeout=10)
            out.append(time.monotonic() - started)
            assert r.status_code == 200, r.text
    return out


def xread_clients(settings: Settings) -> int:
    """Connections to Redis whose last command was a plain XREAD (the live readers)."""
    clients = redis.Redis.from_url(settings.redis_url).client_list()
    return sum(1 for c in clients if c.get("cmd") == "xread")


def test_200_event_stream_clients_share_one_reader_and_the_process_stays_responsive(
        live_gw: ThreadGateway) -> None:
    settings = live_gw.settings
    op = new_operator(settings, live_gw.url)
    cookie = session_cookie(live_gw.url, op.email)
    assert live_gw.runtime is not None and live_gw.runtime.dashboard is not None
    live = live_gw.runtime.dashboard.live
    idle = statistics.median(health_latencies(live_gw.url))

    async def scenario() -> dict[str, float]:
        started = time.monotonic()
        streams = await asyncio.gather(*(open_stream(live_gw.port, cookie)
                                         for _ in range(CLIENTS)))
        connected = time.monotonic() - started
        try:
            await asyncio.to_thread(wait_until, lambda: live.subscribers == CLIENTS, 20, 0.05,
                                    "every stream to subscribe")
            assert xread_clients(settings) == 1
            busy = await asyncio.to_thread(health_latencies, live_gw.url)
            order = await asyncio.to_thread(op.api.order)
            created = time.monotonic()
            payment = await asyncio.to_thread(op.api.upi_payment, order["id"])
            arrived = await asyncio.wait_for(asyncio.gather(
                *(read_until(reader, payment["id"].encode()) for reader, _ in streams)), 20)
            return {"connect_s": connected, "health_p50_s": statistics.median(busy),
                    "health_max_s": max(busy), "fanout_last_s": max(arrived) - created}
        finally:
            for _, writer in streams:
                writer.close()

    numbers = asyncio.run(scenario())
    print(f"\n{CLIENTS} event-stream clients: idle /health p50 {idle * 1000:.1f} ms; "
          + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in numbers.items()))
    assert numbers["health_max_s"] < 1.0, numbers
    assert numbers["health_p50_s"] < 0.25, numbers
    # A browser that hung up is forgotten: no subscription, no queue, nothing to write to.
    wait_until(lambda: live.subscribers == 0, 10, 0.05, "every subscription to be dropped")
    assert xread_clients(settings) <= 1


def test_a_slow_browser_is_dropped_instead_of_buffered(live_gw: ThreadGateway) -> None:
    """A subscriber whose queue is full is closed (its EventSource reconnects and gets a fresh
    snapshot); the others keep receiving."""
    assert live_gw.runtime is not None and live_gw.runtime.dashboard is not None
    live = live_gw.runtime.dashboard.live

    async def fill() -> tuple[bool, bool]:
        slow = live.subscribe("00000000-0000-0000-0000-000000000001")
        fast = live.subscribe("00000000-0000-0000-0000-000000000001")
        for i in range(1000):
            slow.offer({"type": "events", "items": [i]})
            fast.offer({"type": "events", "items": [i]})
            assert await fast.next(1) == {"type": "events", "items": [i]}
        dropped, kept = slow.closed, not fast.closed
        live.unsubscribe(slow)
        live.unsubscribe(fast)
        return dropped, kept

    assert live_gw.call(fill()) == (True, True)
    assert live.subscribers == 0


def test_sign_in_attempts_are_limited(base_settings: Settings) -> None:
    """Three attempts a minute here (DASHBOARD_LOGIN_RATE_LIMIT, per client address and per
    email): the fourth is 429 with Retry-After, even with the right password."""
    gateway = ThreadGateway(make_settings(dashboard_login_rate_limit="3/minute")).start()
    try:
        op = new_operator(gateway.settings, gateway.url)
        for _ in range(2):
            started = time.monotonic()
            assert sign_in(gateway.url, op.email, "wrong").status_code == 401
            assert time.monotonic() - started >= 0.5
        assert sign_in(gateway.url, op.email).status_code == 302
        refused = sign_in(gateway.url, op.email)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many sign-in attempts" in refused.text
    finally:
        gateway.stop()


def test_a_large_form_is_drained_and_refused(live_gw: ThreadGateway) -> None:
    """Dashboard forms are streamed: past 64 KiB the body is dropped as it arrives and the
    answer is 413, signed in or not."""
    http = requests.Session()
    page = http.get(live_gw.url + "/login", timeout=10).text
    token = re.search(r'name="xsrf-token" content="([^"]+)"', page)
    assert token is not None
    r = http.post(live_gw.url + "/login", timeout=30,
                  data={"_xsrf": token.group(1), "email": "a@b.c", "password": "x" * (2 << 20)})
    assert r.status_code == 413
    assert "too large" in r.text


def test_each_diagram_draws_exactly_its_machines_transitions() -> None:
    """The state views' SVG comes from the transitions Machine itself: every (from, to,
    trigger) of the spec is drawn once, with every state and nothing else."""
    from paystate.dashboard.pages import DIAGRAMS, MERMAID
    from paystate.machines.payment import PAYMENT
    from paystate.machines.refund import REFUND
    from paystate.machines.webhook import WEBHOOK_DELIVERY

    for spec in (PAYMENT, REFUND, WEBHOOK_DELIVERY):
        svg = DIAGRAMS[spec.name]
        drawn = set()
        for source, dest, label in re.findall(
                r'<g class="transition" data-from="([^"]+)" data-to="([^"]+)">.*?'
                r'<text class="edge-label"[^>]*>(.*?)</text>', svg):
            for trigger in re.findall(r">([^<]+)</tspan>", label):
                drawn |= {(source, dest, t.strip()) for t in trigger.split(",")}
        edges = [{"from": source, "to": t.dest, "trigger": t.trigger}
                 for t in spec.transitions
                 for source in ((t.source,) if isinstance(t.source, str) else t.source)]
        assert drawn == {(e["from"], e["to"], e["trigger"]) for e in edges}
        assert set(re.findall(r'data-state="([^"]+)"', svg)) == set(spec.states)
        assert set(re.findall(r'data-count-for="([^"]+)"', svg)) == set(spec.states)
        for e in edges:  # transitions' Mermaid joins the triggers of one arrow with |
            line = re.search(rf"^ *{e['from']} --> {e['to']}: (.*)$", MERMAID[spec.name],
                             re.MULTILINE)
            assert line is not None and e["trigger"] in line.group(1).split(" | ")
