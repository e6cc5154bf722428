"""Worker liveness through Redis: each worker writes its last-seen time into a sorted set."""

from __future__ import annotations

import logging
import threading
import time

import redis

log = logging.getLogger(__name__)
STALE_AFTER_S = 10.0


class Heartbeat:
    def __init__(self, client: redis.Redis, key: str, worker_id: str,
                 interval: float = 2.0) -> None:
        self._client = client
        self._key = key
        self._worker_id = worker_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def beat(self) -> None:
        self._client.zadd(self._key, {self._worker_id: time.time()})

    def start(self) -> None:
        try:
            self.beat()
        except redis.RedisError as exc:
            log.warning("heartbeat: %s", exc)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._client.zrem(self._key, self._worker_id)
        except redis.RedisError:
            pass

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except redis.RedisError as exc:
                log.warning("heartbeat: %s", exc)
