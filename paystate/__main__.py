"""Command line: ``paystate serve | api | worker | migrate | seed``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from . import __version__
from .config import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paystate", description="Paystate payment gateway")
    parser.add_argument("command", choices=["serve", "api", "worker", "migrate", "seed"],
                        help="serve: HTTP and worker in one process; api: HTTP only;"
                             " worker: settlement and webhooks only; migrate; seed")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--version", action="version", version=f"paystate {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # transitions logs every callback at INFO: one line per state change is the table's job.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"paystate: {exc}", file=sys.stderr)
        return 2

    from .engine.clock import SystemClock
    from .engine.merchants import seed_test_merchant
    from .engine.migrations import migrate

    if args.command == "migrate":
        applied = migrate(settings.database_url)
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0
    if args.command == "seed":
        migrate(settings.database_url)
        seed_test_merchant(settings.database_url, settings.test_merchant_password,
                           SystemClock().now())
        print("seeded test merchant test@example.com")
        return 0
    from .server import run

    http = args.command in ("serve", "api")
    worker = args.command in ("serve", "worker")
    asyncio.run(run(settings, http=http, worker=worker))
    return 0


if __name__ == "__main__":
    sys.exit(main())
