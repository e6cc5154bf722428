"""Builds one process's engine in a visible order and tears it down in reverse.

``build`` runs after ``prepare_database`` (the migrations) and starts: clock and
randomness -> Redis client -> outbox publisher thread -> shard router (actors) -> webhook
dispatcher actor (every process; its consumer, sender and sweeper only in a worker or with
``webhooks``) -> worker parts (settlement processor, event log pruner, heartbeat, idempotency
janitor) -> read pool, async Redis client and the idempotency keys' pool -> engine bridge ->
webhook bridge -> live feed and dashboard bridge. The HTTP front is not built here:
``server.run`` makes it afterwards from ``Runtime.engine`` and ``Runtime.front_extras()``.
``Runtime.stop`` undoes the list backwards.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio as aioredis

from .config import Settings
from .engine.accounts import Accounts, AsyncAccounts
from .engine.acquirer import PaymentModes, SimulatedBank
from .engine.admin_bridge import AdminBridge
from .engine.audit import AuditLog
from .engine.bridge import Engine
from .engine.clock import Clock, SystemClock
from .engine.dashboard_bridge import DashboardBridge
from .engine.dashboard_queries import DashboardQueries
from .engine.db import read_pool
from .engine.heartbeat import Heartbeat
from .engine.idempotency import IdempotencyStore, gateway_key
from .engine.idempotency_janitor import IdempotencyJanitor
from .engine.live import Counts, LiveFeed, split_feed_key
from .engine.merchant_changes import ChangeAnnouncer, ChangeListener
from .engine.merchants import AuthCache
from .engine.metrics import Metrics
from .engine.migrations import migrate
from .engine.operator_sessions import OperatorSessions
from .engine.operators import OperatorTokens
from .engine.ops_bridge import OpsBridge
from .engine.ops_merchants import OpsMerchants
from .engine.ops_queries import OpsQueries
from .engine.outbox import EventLogPruner, Publisher
from .engine.processor import SettlementProcessor
from .engine.queries import Queries
from .engine.rate_limits import SharedLimits
from .engine.router import ShardRouter
from .engine.sessions import SessionStore
from .engine.shard import ShardConfig
from .engine.streams import StreamNames
from .engine.webhooks.bridge import WebhookBridge
from .engine.webhooks.dispatcher import WebhookDispatcher, build_dispatcher
from .http.razorpay.webhook_bodies import razorpay_events
from .http.renderers import event_data

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    redis: redis.Redis
    router: ShardRouter
    engine: Engine | None = None
    processor: SettlementProcessor | None = None
    pruner: EventLogPruner | None = None
    heartbeat: Heartbeat | None = None
    webhooks: WebhookDispatcher | None = None
    webhook_bridge: WebhookBridge | None = None
    idempotency_janitor: IdempotencyJanitor | None = None
    dashboard: DashboardBridge | None = None
    admin: AdminBridge | None = None
    ops: OpsBridge | None = None
    #: Merchant accounts (create, suspend, roll keys), for the command line and tests.
    accounts: Accounts | None = None
    #: This process's subscription to merchant changes (engine/merchant_changes.py).
    changes: ChangeListener | None = None
    _stoppers: list[Callable[[], Any]] = field(default_factory=list)

    def front_extras(self) -> dict[str, Any]:
        """Engine services a front may use beyond the bridge (named, so fronts stay thin)."""
        extras: dict[str, Any] = {}
        if self.webhook_bridge is not None:
            extras["webhooks"] = self.webhook_bridge
        if self.dashboard is not None:
            extras["dashboard"] = self.dashboard
        if self.admin is not None:
            extras["admin"] = self.admin
        if self.ops is not None:
            extras["ops"] = self.ops
        return extras

    async def stop(self) -> None:
        for stop in reversed(self._stoppers):
            try:
                result = stop()
                if hasattr(result, "__await__"):
                    await result
            except Exception:
                log.exception("error while stopping")
        self._stoppers.clear()


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def prepare_database(settings: Settings) -> None:
    """The migrations (idempotent; every process start applies any that are missing). Never
    the demo merchant: only ``paystate seed`` creates it, and only where it is asked for."""
    migrate(settings.database_url)


async def build(settings: Settings, *, worker: bool = True, webhooks: bool = False,
                clock: Clock | None = None, rng: random.Random | None = None,
                start_background: bool = True) -> Runtime:
    """Start the pieces for the roles asked for. Call from inside the event loop.

    ``webhooks``: deliver webhooks (consume events, send, sweep) without being a worker, as
    the HTTP processes of ``serve --processes N`` do; a worker always delivers them.

    ``start_background=False`` builds the worker parts without their threads, for tests that
    drive ``run_due``/``sweep_once`` themselves under a frozen clock.

    If a part fails to start (Redis or PostgreSQL unreachable at that moment), whatever was
    started is stopped before the error propagates: actor threads are not daemons, and a
    process left running them would neither serve nor exit, so no supervisor would restart it.
    """
    started: list[Runtime] = []
    try:
        return await _assemble(settings, started, worker=worker, webhooks=webhooks,
                               clock=clock, rng=rng, start_background=start_background)
    except BaseException:
        for rt in started:
            await rt.stop()
        raise


async def _assemble(settings: Settings, started: list[Runtime], *, worker: bool,
                    webhooks: bool, clock: Clock | None, rng: random.Random | None,
                    start_background: bool) -> Runtime:
    clock = clock or SystemClock()
    rng = rng or random.SystemRandom()
    streams = StreamNames(settings.stream_prefix)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5,
                                  socket_connect_timeout=5, health_check_interval=30)
    # One acquirer today, the seed's simulated bank; TEST_MODE sends every payment to test mode.
    modes = PaymentModes(
        acquirer=SimulatedBank(upi_rate=settings.upi_success_rate,
                               card_rate=settings.card_success_rate,
                               delay_min_ms=settings.processing_delay_min_ms,
                               delay_max_ms=settings.processing_delay_max_ms),
        test_mode=settings.test_mode, test_delay_ms=settings.test_processing_delay_ms,
        test_success=settings.test_payment_success)
    shard_config = ShardConfig(database_url=settings.database_url, streams=streams,
                               payment_modes=modes,
                               refund_delay_ms=settings.refund_delay_range_ms,
                               event_data=event_data,
                               # A batch's decisions share objects through the cache: at
                               # least a batch's worth each.
                               cache_size=max(64, settings.shard_cache // settings.shards))
    metrics = Metrics(settings.metrics_multiprocess_dir)
    publisher = Publisher(client)
    publisher.start()
    router = ShardRouter(settings.shards, shard_config, publisher, clock, rng, metrics)
    rt = Runtime(settings=settings, clock=clock, redis=client, router=router)
    started.append(rt)
    rt._stoppers.append(client.close)
    rt._stoppers.append(publisher.stop)
    router.start()
    rt._stoppers.append(router.stop)
    # Every process runs the webhook actor (the API writes manual retries and test deliveries
    # through it); workers, and API processes asked to, consume events, sweep and send.
    # Razorpay-format endpoints' bodies are the Razorpay front's words, handed in like
    # event_data above.
    rt.webhooks = build_dispatcher(settings, client, clock, owner=worker_id(),
                                   metrics=metrics, publisher=publisher.enqueue,
                                   razorpay_bodies=razorpay_events).start_actor()
    rt._stoppers.append(rt.webhooks.stop)
    if (worker or webhooks) and start_background:
        rt.webhooks.start_worker()

    if worker:
        wid = worker_id()
        rt.processor = SettlementProcessor(
            settings.database_url, router, client, streams, clock, rng, modes, consumer=wid,
            grace=timedelta(milliseconds=settings.sweep_grace_ms),
            sweep_interval=settings.sweep_interval_ms / 1000,
            claim_idle_ms=settings.stream_claim_idle_ms)
        rt.pruner = EventLogPruner(settings.database_url, clock)
        rt.heartbeat = Heartbeat(client, streams.workers, wid)
        if start_background:
            rt.processor.start()
            rt._stoppers.append(rt.processor.stop)
            rt.pruner.start()
            rt._stoppers.append(rt.pruner.stop)
            rt.heartbeat.start()
            rt._stoppers.append(rt.heartbeat.stop)
        rt.idempotency_janitor = IdempotencyJanitor(settings.database_url, clock)
        if start_background:
            rt.idempotency_janitor.start()
            rt._stoppers.append(rt.idempotency_janitor.stop)

    pool = read_pool(settings.database_url)
    await pool.open(wait=True, timeout=10)
    rt._stoppers.append(pool.close)
    aclient = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5,
                                      socket_connect_timeout=5)
    rt._stoppers.append(aclient.aclose)
    # Idempotency claims and stored answers: the shard's durable commit of the object flushes
    # the claim made before it; an answer lost with a crash is found again from the object.
    keys_pool = read_pool(settings.database_url, flush_commits=False)
    await keys_pool.open(wait=True, timeout=10)
    rt._stoppers.append(keys_pool.close)
    queries, auth_cache = Queries(pool), AuthCache(now=clock.now)
    # Rolls, suspensions and new merchants made by any process or the command line reach this
    # process's auth cache through Redis pub/sub (engine/merchant_changes.py).
    changes = ChangeListener(settings.redis_url, settings.stream_prefix, auth_cache)
    changes.start()
    rt._stoppers.append(changes.stop)
    rt.changes = changes
    announcer = ChangeAnnouncer(settings.redis_url, settings.stream_prefix)
    rt._stoppers.append(announcer.close)

    def announce(merchant_id: str, api_keys: tuple[str, ...] = ()) -> None:
        # This process forgets at once (its caller's next request must see the change); the
        # others when the announcement reaches them.
        auth_cache.invalidate(merchant_id, api_keys)
        announcer.announce(merchant_id, api_keys)

    rt.accounts = Accounts(settings.database_url, clock, announce)
    rt.engine = Engine(router, queries, aclient, streams, clock, auth_cache,
                       idempotency=IdempotencyStore(
                           keys_pool, clock, card_key=gateway_key(settings.database_url,
                                                                  "idempotency_card")),
                       metrics=metrics,
                       shared_limits=SharedLimits(settings.redis_url, settings.stream_prefix),
                       demo_merchant=settings.demo_merchant,
                       accounts=AsyncAccounts(rt.accounts))
    rt.webhook_bridge = WebhookBridge(
        rt.webhooks, pool, queries, clock, auth_cache,
        allow_private=settings.test_mode or settings.webhook_allow_private)
    # The dashboard's live views: one stream reader per process, idle until a browser watches.
    dashboard_queries = DashboardQueries(pool)
    async def feed_counts(key: str) -> Counts:
        return await dashboard_queries.state_counts(*split_feed_key(key))

    live = LiveFeed(settings.redis_url, streams, feed_counts)
    await live.start()
    rt._stoppers.append(live.stop)
    cookie_secret = (settings.dashboard_cookie_secret
                     or gateway_key(settings.database_url, "dashboard_cookie").hex())
    sessions = SessionStore(pool, clock,
                            lifetime=timedelta(hours=settings.dashboard_session_hours),
                            idle=timedelta(minutes=settings.dashboard_session_idle_minutes))
    rt.dashboard = DashboardBridge(dashboard_queries, live, clock, cookie_secret, sessions,
                                   demo_merchant=settings.demo_merchant)
    # The operators' fronts: the admin API and the console (/ops).
    audit = AuditLog(pool)
    figures = OpsQueries(pool, aclient, streams, clock)
    rt.engine.before_scrape.append(figures.export)
    rt.admin = AdminBridge(OperatorTokens(pool), AsyncAccounts(rt.accounts), audit, figures)
    rt.ops = OpsBridge(
        OperatorSessions(pool, clock,
                         lifetime=timedelta(hours=settings.dashboard_session_hours),
                         idle=timedelta(minutes=settings.dashboard_session_idle_minutes)),
        figures, OpsMerchants(pool, clock), AsyncAccounts(rt.accounts), rt.webhook_bridge,
        audit, cookie_secret)
    return rt
