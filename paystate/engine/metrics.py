"""Prometheus metrics of one process, in a registry of its own (no import-time globals).

Counters are incremented where things happen (the HTTP front, shards after commit, the webhook
dispatcher after recording an attempt); queue depths are read from Redis when scraped.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Thread-safe (prometheus_client's metrics are); shared by the loop and the actors."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
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
        self.queue_depth = Gauge("paystate_queue_depth", "Jobs per stream and state",
                                 ["stream", "state"], registry=r)

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
        return generate_latest(self.registry)
