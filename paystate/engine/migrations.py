"""Numbered SQL migrations, applied in order and recorded in ``schema_migrations``.

Safe to run from several processes at once: an advisory lock serialises them.
"""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

from .db import connect

log = logging.getLogger(__name__)
_LOCK_KEY = 7_020_431_001


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("paystate.migrations")
    files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), folder.joinpath(name).read_text()) for name in files]


def migrate(database_url: str) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    applied: list[str] = []
    with connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("applied migration %s", version)
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def reset_database(database_url: str) -> None:
    """Drop every table of the schema (tests only), then migrate from scratch."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    migrate(database_url)


__all__ = ["migrate", "migration_files", "psycopg", "reset_database"]
