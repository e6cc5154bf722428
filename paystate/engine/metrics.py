"""Prometheus metrics of one process, in a registry of its own (no import-time globals).

Counters are incremented where things happen (the HTTP front, shards after commit, the webhook
dispatcher after recording an attempt); queue depths are read from Redis when scraped.

Under ``paystate serve|api --processes N`` the supervisor gives every child one directory in
``PROMETHEUS_MULTIPROC_DIR`` (``metrics_dir.run_directory``), which must be in the environment
before the child first imports prometheus_client: the library then keeps each value in a
per-process file there, and a scrape of any process adds up the files of all of them
(``MultiProcessCollector``). The supervisor forgets a dead child's live gauges
(``metrics_dir.process_exited``); its counters stay in the sums, so they never go backwards.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .metrics_dir import MULTIPROC_DIR_ENV

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Thread-safe (prometheus_client's metrics are); shared by the loop and the actors."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiprocess_dir: str = "") -> None:
        """``multiprocess_dir``: the deployment's directory (``Settings.metrics_multiprocess_dir``);
        empty, ``render`` shows this process alone. Raises ``RuntimeError`` when a directory is
        given but prometheus_client was imported without it in the environment: its values
        would then never reach the files that ``render`` reads."""
        self.registry = CollectorRegistry()
        r = self.registry
        self._scraped = r
        if multiprocess_dir:
            if not values.ValueClass._multiprocess:
                raise RuntimeError(f"{MULTIPROC_DIR_ENV} must be set before prometheus_client"
                                   " is first imported")
            # The metrics below still register in ``registry`` (their names stay unique per
            # process); a scrape reads every process's files instead, this one's included.
            self._scraped = CollectorRegistry()
            multiprocess.MultiProcessCollector(self._scraped, path=multiprocess_dir)
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.requests = Counter("paystate_http_requests", "HTTP requests answered",
                                ["method", "handler", "status"], registry=r)
        self.request_latency = Histogram(
            "paystate_http_request_duration_seconds", "Time to answer an HTTP request",
            ["handler"], buckets=LATENCY_BUCKETS, registry=r)
        self.transitions = Counter("paystate_transitions", "Committed state transitions",
                                   ["machine", "from_state", "to_state"], registry=r)
        self.batch_commit = Histogram(
            "paystate_shard_batch_commit_seconds", "Time to commit one shard batch",
            buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("paystate_shard_batch_size", "Decisions per shard commit",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.webhook_attempts = Counter("paystate_webhook_attempts",
                                        "Webhook delivery attempts by outcome", ["outcome"],
                                        registry=r)
        self.webhook_latency = Histogram(
            "paystate_webhook_attempt_duration_seconds", "Duration of webhook POSTs",
            buckets=LATENCY_BUCKETS, registry=r)
        # Read from Redis by the process that answers a scrape, just before it renders: the
        # value most recently set by any live process is the fresh one ("max" or "livesum"
        # would let an older scrape's copy on another process win or count twice).
        self.queue_depth = Gauge("paystate_queue_depth", "Jobs per stream and state",
                                 ["stream", "state"], registry=r,
                                 multiprocess_mode="livemostrecent")

        # The operator console's figures (ops_queries.OpsQueries.export), set at scrape time
        # from counters and indexed queries like the queue depths above.
        self.stuck_work = Gauge("paystate_stuck_work",
                                "Objects more than 60 s past their due time (at most 1000 counted)",
                                ["machine"], registry=r, multiprocess_mode="livemostrecent")
        self.consumer_lag = Gauge("paystate_consumer_group_lag",
                                  "Stream entries not yet delivered to a consumer group",
                                  ["stream", "group"], registry=r,
                                  multiprocess_mode="livemostrecent")
        self.consumer_pending = Gauge("paystate_consumer_group_pending",
                                      "Entries delivered to a consumer group but not acknowledged",
                                      ["stream", "group"], registry=r,
                                      multiprocess_mode="livemostrecent")
        self.objects = Gauge("paystate_objects", "Objects per machine, mode and state",
                             ["machine", "mode", "state"], registry=r,
                             multiprocess_mode="livemostrecent")

    def observe_request(self, method: str, handler: str, status: int, seconds: float) -> None:
        # The labelled children, looked up once per label set: ``labels()`` costs more than the
        # increment itself, on every request.
        key = (method, handler, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(method, handler, str(status)),
                        self.request_latency.labels(handler))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_transition(self, machine: str, from_state: str | None, to_state: str) -> None:
        self.transitions.labels(machine, from_state or "none", to_state).inc()

    def render(self) -> bytes:
        """The exposition: this process's metrics, or with a multiprocess directory the sums
        over every process of the deployment."""
        return generate_latest(self._scraped)
