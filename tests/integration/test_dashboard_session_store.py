"""engine/sessions.py on the real database, under a manual clock: a session's lifetime, its
idle timeout, the stored hash, and everything that ends it (logout, ``end_sessions``, a
password change by any path)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from paystate.config import Settings
from paystate.engine.clock import ManualClock
from paystate.engine.db import read_pool
from paystate.engine.merchants import TEST_MERCHANT, create_merchant, seed_test_merchant
from paystate.engine.secrets_hash import hash_password
from paystate.engine.sessions import SessionStore
from tests.webhooks_support import rows

HOURS = timedelta(hours=8)
IDLE = timedelta(minutes=60)


def run(settings: Settings, clock: ManualClock,
        scenario: Callable[[SessionStore], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        pool = read_pool(settings.database_url, max_size=2)
        await pool.open(wait=True, timeout=10)
        try:
            return await scenario(SessionStore(pool, clock, lifetime=HOURS, idle=IDLE))
        finally:
            await pool.close()
    return asyncio.run(main())


def merchant(settings: Settings, clock: ManualClock) -> str:
    tag = uuid.uuid4().hex[:12]
    mid = create_merchant(settings.database_url, name="Sessions", email=f"s-{tag}@example.com",
                          api_key=f"key_test_{tag}", api_secret=f"secret_{tag}", now=clock.now())
    set_password(settings, mid, "first-password")
    return mid


def set_password(settings: Settings, merchant_id: str, password: str) -> None:
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE merchants SET password_hash = %s WHERE id = %s",
                     (hash_password(password), merchant_id))


def password_hash(settings: Settings, merchant_id: str) -> str:
    found = rows(settings, "SELECT password_hash FROM merchants WHERE id = %s", merchant_id)
    return str(found[0]["password_hash"])


def sessions_of(settings: Settings, merchant_id: str) -> list[dict[str, Any]]:
    return rows(settings, "SELECT * FROM dashboard_sessions WHERE merchant_id = %s", merchant_id)


def test_a_session_lives_its_lifetime_if_used_and_ends_when_idle(settings: Settings) -> None:
    clock = ManualClock(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
    mid = merchant(settings, clock)

    async def scenario(store: SessionStore) -> None:
        token = await store.start(mid, password_hash(settings, mid))
        assert len(token) == 43  # 32 random bytes, base64url
        row = await store.find(token)
        assert row is not None and str(row["id"]) == mid
        # Used every 59 minutes it stays open until its lifetime is over, not a minute more.
        for _ in range(8):
            clock.advance(timedelta(minutes=59))
            assert await store.find(token) is not None
        clock.advance(timedelta(minutes=9))
        assert await store.find(token) is None

        idle = await store.start(mid, password_hash(settings, mid))
        clock.advance(IDLE)
        assert await store.find(idle) is None
        assert await store.find(idle[:-1] + ("A" if idle[-1] != "A" else "B")) is None
        assert await store.find("x" * 1000) is None

    run(settings, clock, scenario)
    # Only the token's hash is kept; the next sign-in swept the expired sessions away.
    kept = sessions_of(settings, mid)
    assert len(kept) == 1 and len(bytes(kept[0]["id_hash"])) == hashlib.sha256().digest_size


def test_logout_end_sessions_and_a_password_change_end_sessions(settings: Settings) -> None:
    clock = ManualClock(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
    mid, other = merchant(settings, clock), merchant(settings, clock)

    async def scenario(store: SessionStore) -> None:
        a, b, c = [await store.start(mid, password_hash(settings, mid)) for _ in range(3)]
        theirs = await store.start(other, password_hash(settings, other))
        await store.end(a)
        assert await store.find(a) is None and await store.find(b) is not None
        assert await store.end_sessions(mid) == 2
        assert await store.find(b) is None and await store.find(c) is None
        assert await store.find(theirs) is not None
        # A password changed behind the engine's back (a direct UPDATE) still ends them.
        d = await store.start(mid, password_hash(settings, mid))
        set_password(settings, mid, "second-password")
        assert await store.find(d) is None

    run(settings, clock, scenario)


def test_the_seeds_password_reset_ends_the_test_merchants_sessions(settings: Settings) -> None:
    clock = ManualClock(datetime.now(UTC))
    mid = TEST_MERCHANT["id"]

    async def start(store: SessionStore) -> str:
        return await store.start(mid, password_hash(settings, mid))

    async def find(store: SessionStore) -> Any:
        return await store.find(token)

    token = run(settings, clock, start)
    assert sessions_of(settings, mid)
    try:
        seed_test_merchant(settings.database_url, "a-new-password", clock.now())
        assert sessions_of(settings, mid) == []
        assert run(settings, clock, find) is None
    finally:
        seed_test_merchant(settings.database_url, settings.test_merchant_password, clock.now())
