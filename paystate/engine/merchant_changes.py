"""Telling every process at once that a merchant changed: Redis pub/sub on ``{prefix}:merchants``.

Each process caches who an API key belongs to (``merchants.AuthCache``). A key roll, a
suspension, a reinstatement or a new merchant is written to PostgreSQL by whichever process
(or command line) made it, which then publishes ``{"merchant_id", "api_keys"}`` on the channel;
every gateway process runs one ``ChangeListener`` thread subscribed to it, which drops that
merchant from its cache, so the next request reads the row again. A message is a hint to
forget, never data: a lost one costs at most the cache's fallback TTL.

Pub/sub keeps no history, so a listener that was disconnected may have missed messages: while
it is not subscribed the cache keeps entries at most ``AuthCache.fallback_ttl`` seconds (2 s),
and on every (re)subscription it empties the cache. Either way a change is seen everywhere
within about 2 s, Redis up or down.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import redis

from .merchants import AuthCache

log = logging.getLogger(__name__)


def channel(prefix: str) -> str:
    """The channel of merchant changes for one deployment (its stream prefix)."""
    return f"{prefix}:merchants"


class ChangeAnnouncer:
    """Publishes merchant changes. Thread-safe; each call costs one PUBLISH. A failure to
    publish is logged and swallowed: the change is committed already, and processes fall back
    to their short TTL only while Redis is unreachable to them too."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._channel = channel(prefix)

    def announce(self, merchant_id: str, api_keys: tuple[str, ...] = ()) -> None:
        message = json.dumps({"merchant_id": merchant_id, "api_keys": list(api_keys)})
        try:
            self._client.publish(self._channel, message)
        except redis.RedisError as exc:
            log.warning("merchant change of %s not announced: %s", merchant_id, exc)

    def close(self) -> None:
        self._client.close()


class ChangeListener:
    """One daemon thread per process: subscribes to the channel and invalidates ``cache`` on
    every message; reconnects (after ``retry_s``) on Redis errors. ``start`` and ``stop`` are
    bootstrap's; ``stop`` returns within about ``poll_s``."""

    def __init__(self, redis_url: str, prefix: str, cache: AuthCache, *,
                 poll_s: float = 0.2, retry_s: float = 0.5) -> None:
        self._redis_url = redis_url
        self._channel = channel(prefix)
        self._cache = cache
        self._poll_s = poll_s
        self._retry_s = retry_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="merchant-changes", daemon=True)
        #: Set while subscribed (tests wait for it before publishing).
        self.subscribed = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            client = redis.Redis.from_url(self._redis_url, socket_timeout=5,
                                          socket_connect_timeout=2, health_check_interval=10)
            try:
                self._listen(client)
            except (redis.RedisError, OSError) as exc:
                log.warning("merchant changes: %s; the auth cache keeps entries %s s meanwhile",
                            exc, "2")
            finally:
                self.subscribed.clear()
                self._cache.listening(False)
                client.close()
            self._stopping.wait(self._retry_s)

    def _listen(self, client: redis.Redis) -> None:
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self._channel)
            while not self._stopping.is_set():
                message = pubsub.get_message(timeout=self._poll_s)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._cache.listening(True)
                    self.subscribed.set()
                elif message["type"] == "message":
                    self._apply(message["data"])
        finally:
            pubsub.close()

    def _apply(self, data: Any) -> None:
        try:
            change = json.loads(data)
            merchant_id = str(change["merchant_id"])
            keys = tuple(str(k) for k in change.get("api_keys") or ())
        except (ValueError, KeyError, TypeError):
            log.warning("merchant changes: ignored a malformed message")
            return
        self._cache.invalidate(merchant_id, keys)
