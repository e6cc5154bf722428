"""What a shard reads from PostgreSQL: its bounded cache of orders, payments and refunds, and
which of its copies a decision may trust.

A cached copy is a hint: another process may have moved the object since. A write on a hint is
safe (the commit's compare-and-set catches a stale one), but a refusal writes nothing, so the
cache tells its shard which copies the current decision took without reading them (``hints``):
a refusal that rested on one is decided again once every copy it read was dropped. Runs on
the shard's thread only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from .errors import NotFound
from .records import BY_ID, BY_IDS, PUBLIC_PAYMENTS_OF_ORDER, TABLES


class ShardRows:
    def __init__(self, size: int, conn: Callable[[], psycopg.Connection[Any]]) -> None:
        self._size = size
        self._conn = conn
        self._cache: OrderedDict[str, Any] = OrderedDict()
        # Ids read from PostgreSQL (or created) during the current attempt: committed state,
        # or the attempt's own new objects.
        self._fresh: set[str] = set()
        # Ids the current decision read, and those of them it took from the cache unread.
        self._reads: set[str] = set()
        self.hints: set[str] = set()

    def __len__(self) -> int:
        return len(self._cache)

    def begin_attempt(self) -> None:
        self._fresh = set()

    def begin_decision(self) -> None:
        self._reads, self.hints = set(), set()

    def get(self, kind: str, object_id: str) -> Any:
        """The cached object, or its row read now; ``NotFound`` if neither."""
        self._reads.add(object_id)
        obj = self._cache.get(object_id)
        if obj is not None:
            self._cache.move_to_end(object_id)
            if object_id not in self._fresh:
                self.hints.add(object_id)
            return obj
        _table, from_row, name = TABLES[kind]
        row = self._conn().execute(BY_ID[kind], (object_id,)).fetchone()
        if row is None:
            raise NotFound(name)
        return self.remember(from_row(row))

    def load_many(self, kind: str, ids: Iterable[str]) -> None:
        """Read the rows of ``ids`` that the cache lacks, in one query."""
        missing = list({i for i in ids if i not in self._cache})
        if not missing:
            return
        _table, from_row, _name = TABLES[kind]
        for row in self._conn().execute(BY_IDS[kind], (missing,)).fetchall():
            self.remember(from_row(row))

    def peek(self, object_id: str) -> Any:
        """The cached object or None, without reading or counting it as read."""
        return self._cache.get(object_id)

    def remember(self, obj: Any) -> Any:
        """Cache ``obj`` (read now, or created by this attempt) as the most recently used,
        evicting the least recently used past the size. Every path that stores into the cache
        comes through here."""
        self._cache[obj.id] = obj
        self._fresh.add(obj.id)
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return obj

    def forget(self, objects: Iterable[Any]) -> None:
        for obj in objects:
            self._cache.pop(obj.id, None)

    def drop_reads(self, keep: set[str]) -> None:
        """Drop every copy the current decision read but ``keep``, so that deciding again reads
        all of them from their rows (dropping only the hints would make the copies just read
        the next attempt's hints)."""
        for object_id in self._reads - keep:
            self._cache.pop(object_id, None)

    def clear(self) -> None:
        self._cache.clear()

    def public_payments_of(self, order_id: str) -> int:
        """Payments the public checkout made on the order so far, in any process (the public
        attempt cap: a cap, so two processes counting at once may let one more through)."""
        row = self._conn().execute(PUBLIC_PAYMENTS_OF_ORDER, (order_id,)).fetchone()
        return int(row["n"]) if row else 0
