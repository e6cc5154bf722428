"""Command line: ``paystate serve | api | worker | migrate | seed | merchants ... |
operators create | listen``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import __version__
from .cli_settings import settings_or_none
from .config import Settings

if TYPE_CHECKING:
    import asyncio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paystate", description="Paystate payment gateway")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["merchants"]:
        from .merchants_cli import main as merchants_main

        return merchants_main(argv[1:])
    if argv[:1] == ["operators"]:
        return operators_main(argv[1:])
    if argv[:1] == ["listen"]:
        from .listen import main as listen_main

        return listen_main(argv[1:])
    parser.add_argument("command", choices=["serve", "api", "worker", "migrate", "seed"],
                        help="serve: HTTP and worker in one process; api: HTTP only;"
                             " worker: settlement and webhooks only; migrate; seed;"
                             " merchants (paystate merchants --help);"
                             " operators create --email E --role admin|viewer;"
                             " listen (paystate listen --help)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--version", action="version", version=f"paystate {__version__}")
    parser.add_argument("--processes", type=int, default=None,
                        help="serve/api: gateway processes sharing the port"
                             " (default PAYSTATE_PROCESSES, else the CPU count)")
    parser.add_argument("--reuse-port", action="store_true",
                        help="bind with SO_REUSEPORT (set for the children of --processes)")
    parser.add_argument("--webhooks", action="store_true",
                        help="api: also deliver webhooks (set for the HTTP children of serve)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # transitions logs every callback at INFO: one line per state change is the table's job.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    settings = settings_or_none()
    if settings is None:
        return 2

    if args.command == "migrate":
        from .engine.migrations import migrate

        applied = migrate(settings.database_url)
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0
    if args.command == "seed":
        return seed(settings)
    http = args.command in ("serve", "api")
    worker = args.command in ("serve", "worker")
    processes = args.processes if args.processes is not None else settings.processes
    if processes < 1:
        print("paystate: --processes must be at least 1", file=sys.stderr)
        return 2
    if http and processes > 1:
        # Not the app yet: the supervisor imports it for its forked children once the metrics
        # directory is in the environment (supervisor.py); each child runs ``main`` again with
        # its own command line.
        from .addresses import startup_lines
        from .supervisor import supervise

        return supervise(args.command, processes, args.log_level,
                         startup_lines(settings), main)

    import asyncio

    from .server import run

    with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
        runner.run(run(settings, http=http, worker=worker, reuse_port=args.reuse_port,
                       webhooks=args.webhooks))
    return 0


def seed(settings: Settings) -> int:
    """Apply the migrations, then create the demo merchant (idempotent) where the deployment
    asks for it. Elsewhere seed nothing, say so on stderr and exit 0: docker-compose's one-shot
    service runs this same command on every deployment, and must not fail where nobody asked
    for public credentials."""
    from .engine.clock import SystemClock
    from .engine.merchants import seed_test_merchant
    from .engine.migrations import migrate
    from .engine.operators import seed_demo_operator

    migrate(settings.database_url)
    if not settings.demo_merchant:
        print("paystate: the demo merchant (test@example.com) was not seeded: it exists only"
              " where SEED_TEST_MERCHANT=true or TEST_MODE=true, and neither is set",
              file=sys.stderr)
        return 0
    now = SystemClock().now()
    seed_test_merchant(settings.database_url, settings.test_merchant_password, now)
    seed_demo_operator(settings.database_url, settings.test_operator_password, now)
    print("seeded test merchant test@example.com and demo operator ops@example.com")
    return 0


def operators_main(argv: list[str]) -> int:
    """``paystate operators create --email E --role admin|viewer``: print the new operator,
    with its password and API token, once, as JSON."""
    from .engine.clock import SystemClock
    from .engine.migrations import migrate
    from .engine.operators import ROLES, OperatorExists, create_operator

    parser = argparse.ArgumentParser(prog="paystate operators")
    parser.add_argument("action", choices=["create"])
    parser.add_argument("--email", required=True, help="the operator's email")
    parser.add_argument("--role", choices=ROLES, default="viewer",
                        help="admin (may change things) or viewer (reads only)")
    args = parser.parse_args(argv)
    settings = settings_or_none()
    if settings is None:
        return 2
    email, role = args.email, args.role
    migrate(settings.database_url)
    try:
        made = create_operator(settings.database_url, email, role, SystemClock().now())
    except (OperatorExists, ValueError) as exc:
        print(f"paystate: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(made, indent=2))
    print("The password and the API token are shown only this once.", file=sys.stderr)
    return 0


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop (libuv: cheaper sockets and callbacks under Tornado), or asyncio's own."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


if __name__ == "__main__":
    sys.exit(main())
