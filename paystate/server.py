"""Running the processes: ``serve`` (everything), ``api`` (HTTP and shards), ``worker``."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from .addresses import startup_lines
from .bootstrap import build, prepare_database
from .config import Settings
from .http.app import make_app
from .http.base import Deps
from .http.guards import make_server

log = logging.getLogger(__name__)
# How long a stopping process waits for the requests under way.
STOP_GRACE_S = 10.0


async def run(settings: Settings, *, http: bool, worker: bool, reuse_port: bool = False,
              webhooks: bool = False) -> None:
    """One gateway process until SIGINT/SIGTERM. ``reuse_port``: bind with SO_REUSEPORT, beside
    the other processes of ``--processes N``."""
    prepare_database(settings)
    rt = await build(settings, worker=worker, webhooks=webhooks)
    server = None
    if http:
        assert rt.engine is not None
        deps = Deps(engine=rt.engine, settings=settings, extras=rt.front_extras())
        app = make_app(deps)
        server = make_server(app, settings)
        server.listen(settings.port, address=settings.host, reuse_port=reuse_port)
        log.info("paystate listening on http://%s:%d", settings.host, settings.port)
    # What start-up built (modules, the app, the engine) lives as long as the process: frozen,
    # out of the collector's sight, a full collection under load walks only what traffic made.
    # Before, each process's full collections under make bench-create at c=64 stopped it for
    # 85-315 ms, with 32 requests waiting in each.
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"paystate ready (http={'on' if http else 'off'}, worker={'on' if worker else 'off'},"
          f" port={settings.port})", flush=True)
    if http and not reuse_port:  # one process; under a supervisor, the supervisor says it
        print("\n".join(startup_lines(settings)), flush=True)
    await stop.wait()
    log.info("stopping")
    if server is not None:
        server.stop()
        # Requests under way finish before the pools and actors they use are closed.
        if not await deps.guards.in_flight.drained(STOP_GRACE_S):
            log.warning("stopping with %d requests unfinished", deps.guards.in_flight.count)
        await server.close_all_connections()
    await rt.stop()
