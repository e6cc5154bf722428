"""How long a connection may take to send a request: its headers within the idle timeout (which
also closes an idle keep-alive connection), its body within the body timeout.

Tornado enforces both by wrapping every read of every request in ``gen.with_timeout``: a
future, a timer and two callbacks per request, 10% of the HTTP process's GIL samples under
load. Here each connection's reads only stamp a deadline, and one timer per server looks at
the open connections once per ``period`` and closes those whose read is past it. A timeout is
therefore enforced up to ``period`` late, which the whole-second settings allow.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from tornado.ioloop import PeriodicCallback

log = logging.getLogger(__name__)


class _Reads:
    """One connection's read under way: until when it may last, and whether it is a body."""

    __slots__ = ("body", "deadline", "stream")

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.deadline = math.inf
        self.body = False


class ReadDeadlines:
    """A timeout of ``None`` is none, as in Tornado (whose server always sets the header one)."""

    def __init__(self, header_timeout: float | None, body_timeout: float | None,
                 period: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.header_timeout = math.inf if header_timeout is None else header_timeout
        self.body_timeout = math.inf if body_timeout is None else body_timeout
        self.clock = clock
        self._open: list[_Reads] = []
        self._timer = PeriodicCallback(self._tick, period * 1000)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def watch(self, stream: Any) -> None:
        """Wrap the reads Tornado's HTTP/1 server makes on ``stream``: ``read_until_regex``
        starts a request (its headers), the first ``read_bytes`` or ``read_until`` after it
        starts that request's body, and a chunked body's later reads keep the body's deadline."""
        reads = _Reads(stream)
        self._open.append(reads)
        read_headers, read_bytes, read_until = (stream.read_until_regex, stream.read_bytes,
                                                stream.read_until)
        header_timeout, body_timeout = self.header_timeout, self.body_timeout
        now = self.clock

        def headers(*args: Any, **kwargs: Any) -> Any:
            reads.deadline = now() + header_timeout
            reads.body = False
            return read_headers(*args, **kwargs)

        def start_body() -> None:
            if not reads.body:
                reads.body = True
                reads.deadline = now() + body_timeout

        def body_bytes(*args: Any, **kwargs: Any) -> Any:
            start_body()
            return read_bytes(*args, **kwargs)

        def body_until(*args: Any, **kwargs: Any) -> Any:
            start_body()
            return read_until(*args, **kwargs)

        stream.read_until_regex = headers
        stream.read_bytes = body_bytes
        stream.read_until = body_until

    def _tick(self) -> None:
        self.close_late()

    def close_late(self) -> int:
        """Close every connection still waiting on a read past its deadline; forget closed ones.
        A connection whose request is being handled has no read pending (``reading()`` is
        false), so a slow handler is never cut off. Returns how many were closed."""
        now = self.clock()
        still_open: list[_Reads] = []
        closed = 0
        for reads in self._open:
            stream = reads.stream
            if stream.closed():
                continue
            if reads.deadline < now and stream.reading():
                if reads.body:
                    log.info("closing a connection whose request body is late")
                stream.close()
                closed += 1
                continue
            still_open.append(reads)
        self._open = still_open
        return closed
