"""``paystate merchants create --name N --email E | list | suspend ID | reinstate ID``.

For the people who run the gateway. It reaches the database ``DATABASE_URL`` names; unset,
that is the one ``make run`` starts (``postgresql://paystate:paystate@127.0.0.1:54329/paystate``,
config.py's default), so it works beside ``make run`` from the checkout with no settings. Changes
are announced on Redis (``REDIS_URL``, same rule), so running gateways see them within 2 s.
Output is JSON on stdout; errors go to stderr with a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import psycopg

from .cli_settings import settings_or_none
from .engine.accounts import Accounts, DuplicateEmail
from .engine.clock import SystemClock
from .engine.errors import NotFound
from .engine.merchant_changes import ChangeAnnouncer
from .engine.migrations import migrate
from .machines.errors import ValidationError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="paystate merchants",
                                     description="Create and manage merchant accounts")
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="a new merchant; prints its keys and password once")
    create.add_argument("--name", required=True)
    create.add_argument("--email", required=True)
    sub.add_parser("list", help="every merchant (no secrets)")
    for action in ("suspend", "reinstate"):
        one = sub.add_parser(action, help=f"{action} a merchant by id")
        one.add_argument("id")
    args = parser.parse_args(argv)
    settings = settings_or_none()
    if settings is None:
        return 2
    announcer = ChangeAnnouncer(settings.redis_url, settings.stream_prefix)
    try:
        migrate(settings.database_url)
        accounts = Accounts(settings.database_url, SystemClock(), announcer.announce)
        result: Any
        if args.action == "create":
            result = accounts.create_account(args.name, args.email)
        elif args.action == "list":
            result = accounts.list_accounts()
        elif args.action == "suspend":
            result = accounts.suspend(args.id)
        else:
            result = accounts.reinstate(args.id)
    except DuplicateEmail as exc:
        print(f"paystate: {exc}", file=sys.stderr)
        return 3
    except (NotFound, ValidationError) as exc:
        print(f"paystate: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(f"paystate: cannot reach the database ({exc}); is `make run` running, or"
              " DATABASE_URL set?", file=sys.stderr)
        return 1
    finally:
        announcer.close()
    print(json.dumps(result, indent=2))
    return 0
