"""The header and body timeouts, enforced by one timer per server instead of one per read: a
real Tornado server on a socket, with the deadlines' clock injected so that no test waits."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler, stream_request_body

from paystate.http.guards import EnvelopedHTTPServer

IDLE_S = 60
BODY_S = 10


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Echo(RequestHandler):
    async def post(self) -> None:
        self.write(b"got %d" % len(self.request.body))


@stream_request_body
class Chunks(RequestHandler):
    """Keeps what arrived of its body, so that a test sees each chunk read."""

    received: bytearray

    def data_received(self, chunk: bytes) -> None:
        Chunks.received += chunk

    async def post(self) -> None:
        self.write(b"got %d" % len(Chunks.received))


class Slow(RequestHandler):
    entered: asyncio.Event
    release: asyncio.Event

    async def get(self) -> None:
        Slow.entered.set()
        await Slow.release.wait()
        self.write(b"done")


Scenario = Callable[[EnvelopedHTTPServer, Clock, int], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        Slow.entered, Slow.release, Chunks.received = asyncio.Event(), asyncio.Event(), bytearray()
        app = Application([(r"/echo", Echo), (r"/chunks", Chunks), (r"/slow", Slow)])
        server = EnvelopedHTTPServer(app, idle_connection_timeout=IDLE_S, body_timeout=BODY_S)
        clock = Clock()
        server.deadlines.clock = clock
        [sock] = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        server.add_socket(sock)
        try:
            await scenario(server, clock, sock.getsockname()[1])
        finally:
            server.stop()
            await server.close_all_connections()

    asyncio.run(main())


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run the server's side of the sockets until ``condition`` holds. Only the
    deadlines' clock is injected: reads happen when the loop gets to them."""
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"gave up waiting for {what}")


def waiting_for(server: EnvelopedHTTPServer, body: bool) -> Callable[[], bool]:
    """Every open connection has a read pending, of a body or of the next request's headers."""
    def check() -> bool:
        reads = server.deadlines._open
        return bool(reads) and all(r.body == body and r.stream.reading() for r in reads)
    return check


async def closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 2) == b""
    except ConnectionError:
        return True


async def closed_just_after(server: EnvelopedHTTPServer, clock: Clock,
                            reader: asyncio.StreamReader, timeout: float) -> None:
    """The connection is still open a second before ``timeout`` and closed a second after."""
    clock.now += timeout - 1
    assert server.deadlines.close_late() == 0
    clock.now += 2
    assert server.deadlines.close_late() == 1
    assert await closed(reader)


def test_tornado_no_longer_wraps_each_read_in_a_timeout() -> None:
    async def scenario(server: EnvelopedHTTPServer, clock: Clock, port: int) -> None:
        assert server.conn_params.header_timeout is None
        assert server.conn_params.body_timeout is None
        assert (server.deadlines.header_timeout, server.deadlines.body_timeout) == (60, 10)

    run(scenario)


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() -> None:
    async def scenario(server: EnvelopedHTTPServer, clock: Clock, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        head = await reader.readuntil(b"got 3")
        assert head.startswith(b"HTTP/1.1 200")
        await until(waiting_for(server, body=False), "the next request's headers to be awaited")
        await closed_just_after(server, clock, reader, IDLE_S)
        writer.close()

    run(scenario)


def test_a_body_that_stops_short_is_closed_after_the_body_timeout() -> None:
    async def scenario(server: EnvelopedHTTPServer, clock: Clock, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabcde")
        await until(waiting_for(server, body=True), "the rest of the body to be awaited")
        await closed_just_after(server, clock, reader, BODY_S)
        writer.close()

    run(scenario)


def test_a_chunked_body_keeps_its_first_deadline_however_many_chunks_arrive() -> None:
    async def scenario(server: EnvelopedHTTPServer, clock: Clock, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n")
        for n in range(3):
            await until(lambda n=n: Chunks.received == b"abc" + b"x" * n, f"chunk {n + 1}")
            clock.now += BODY_S / 4
            assert server.deadlines.close_late() == 0
            writer.write(b"1\r\nx\r\n")
        await until(lambda: Chunks.received == b"abcxxx", "the last chunk")
        clock.now += BODY_S / 2
        assert server.deadlines.close_late() == 1
        assert await closed(reader)
        writer.close()

    run(scenario)


def test_a_slow_handler_is_never_cut_off_and_its_connection_serves_the_next_request() -> None:
    async def scenario(server: EnvelopedHTTPServer, clock: Clock, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        await until(Slow.entered.is_set, "the handler to start")
        clock.now += IDLE_S * 2
        assert server.deadlines.close_late() == 0
        Slow.release.set()
        assert (await reader.readuntil(b"done")).startswith(b"HTTP/1.1 200")
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
        assert (await reader.readuntil(b"got 2")).startswith(b"HTTP/1.1 200")
        writer.close()

    run(scenario)


def test_closed_connections_are_forgotten() -> None:
    async def scenario(server: EnvelopedHTTPServer, clock: Clock, port: int) -> None:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                         b"Connection: close\r\n\r\nz")
            assert (await reader.read()).endswith(b"got 1")
            writer.close()
        await until(lambda: all(r.stream.closed() for r in server.deadlines._open),
                    "the server to close its side")
        assert len(server.deadlines._open) == 3
        assert server.deadlines.close_late() == 0
        assert server.deadlines._open == []

    run(scenario)
