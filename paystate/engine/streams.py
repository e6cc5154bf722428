"""Redis stream names and consumer-group plumbing shared by every consumer."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamNames:
    prefix: str = "paystate"

    @property
    def events(self) -> str:
        return f"{self.prefix}:events"

    @property
    def payment_jobs(self) -> str:
        return f"{self.prefix}:jobs:payments"

    @property
    def refund_jobs(self) -> str:
        return f"{self.prefix}:jobs:refunds"

    @property
    def webhook_jobs(self) -> str:
        return f"{self.prefix}:jobs:webhooks"

    @property
    def job_streams(self) -> tuple[str, ...]:
        return (self.payment_jobs, self.refund_jobs, self.webhook_jobs)

    @property
    def job_stats(self) -> str:
        return f"{self.prefix}:jobs:stats"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"


def ensure_group(client: redis.Redis, stream: str, group: str) -> None:
    """Create the group (and the stream) if missing; a second caller's BUSYGROUP is fine."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def decode_entry(fields: dict[Any, Any]) -> dict[str, Any]:
    raw = fields.get(b"payload") or fields.get("payload")
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw) if raw else {}


def read_group(client: redis.Redis, group: str, consumer: str, streams: dict[Any, Any],
               count: int = 100, block_ms: int | None = 1000) -> list[tuple[str, str, dict]]:
    """XREADGROUP returning flat (stream, entry_id, payload) tuples.

    ``streams`` maps stream -> id: ``">"`` for new entries, ``"0"`` to re-read this consumer's
    own pending entries after a restart.
    """
    try:
        # redis-py's stub types the reply as a union; it is a list of (stream, entries).
        reply: Any = client.xreadgroup(group, consumer, dict(streams), count=count,
                                       block=block_ms)
    except redis.ResponseError as exc:
        if "NOGROUP" in str(exc):
            for stream in streams:
                ensure_group(client, stream, group)
            return []
        raise
    out = []
    for stream, entries in reply or []:
        name = stream.decode() if isinstance(stream, bytes) else stream
        for entry_id, fields in entries:
            eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            if fields is None:  # deleted while pending
                continue
            out.append((name, eid, decode_entry(fields)))
    return out


def autoclaim(client: redis.Redis, stream: str, group: str, consumer: str,
              min_idle_ms: int, count: int = 100) -> list[tuple[str, str, dict]]:
    """Take over entries that another (presumably dead) consumer left pending too long."""
    try:
        reply = client.xautoclaim(stream, group, consumer, min_idle_time=min_idle_ms,
                                  start_id="0-0", count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" in str(exc):
            ensure_group(client, stream, group)
            return []
        raise
    entries = reply[1] if len(reply) > 1 else []
    out = []
    for entry_id, fields in entries:
        if fields is None:
            continue
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        out.append((stream, eid, decode_entry(fields)))
    return out
