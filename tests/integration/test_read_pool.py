"""The read pools after PostgreSQL ended their connections (a restart, a crash, an operator's
pg_terminate_backend): a request never fails because the pool held a dead connection.
tests/e2e/test_outages.py restarts the server itself; these end single backends, which is the
same notice (SQLSTATE 57P01, AdminShutdown) to the connection that receives it."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from psycopg import errors

from paystate.config import Settings
from paystate.engine.db import PooledConnection, ReadPool, read_pool, run_pooled


def backend_pid(conn: PooledConnection) -> Any:
    return conn.pgconn.backend_pid


async def opened(url: str) -> ReadPool:
    pool = read_pool(url, max_size=2)
    await pool.open(wait=True, timeout=10)
    return pool


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_ended_mid_work_is_retried_once_on_a_fresh_one(
        base_settings: Settings) -> None:
    async def scenario() -> list[int]:
        pool = await opened(base_settings.database_url)
        seen: list[int] = []

        async def work(conn: PooledConnection) -> int:
            seen.append(backend_pid(conn))
            if len(seen) == 1:  # the server ends this one between the check and the query
                terminate(base_settings.database_url, seen[0])
            row = await (await conn.execute("SELECT 41 + 1 AS n")).fetchone()
            assert row is not None
            return int(row["n"])
        try:
            assert await run_pooled(pool, work) == 42
        finally:
            await pool.close()
        return seen
    seen = asyncio.run(scenario())
    assert len(seen) == 2 and seen[0] != seen[1]


def test_a_second_death_and_other_errors_are_not_retried(base_settings: Settings) -> None:
    async def scenario() -> tuple[int, int]:
        pool = await opened(base_settings.database_url)
        ended = failed = 0

        async def always_ended(conn: PooledConnection) -> None:
            nonlocal ended
            ended += 1
            terminate(base_settings.database_url, backend_pid(conn))
            await conn.execute("SELECT 1")

        async def live_but_failing(conn: PooledConnection) -> None:
            nonlocal failed
            failed += 1
            await conn.execute("SET statement_timeout = 10")
            await conn.execute("SELECT pg_sleep(1)")
        try:
            with pytest.raises(errors.AdminShutdown):
                await run_pooled(pool, always_ended)
            with pytest.raises(errors.QueryCanceled):  # an OperationalError, connection alive
                await run_pooled(pool, live_but_failing)
        finally:
            await pool.close()
        return ended, failed
    assert asyncio.run(scenario()) == (2, 1)


def test_the_pool_hands_out_no_connection_the_server_ended(base_settings: Settings) -> None:
    """Every idle connection of the pool is killed; the next requests still get live ones,
    without run_pooled's retry: the pool checks what it hands out."""
    async def scenario() -> None:
        pool = await opened(base_settings.database_url)
        try:
            async with pool.connection() as a, pool.connection() as b:
                pids = [backend_pid(a), backend_pid(b)]
            for pid in pids:
                terminate(base_settings.database_url, pid)
            for _ in range(4):
                async with pool.connection() as conn:
                    await conn.execute("SELECT 1")
        finally:
            await pool.close()
    asyncio.run(scenario())
