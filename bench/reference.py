"""``make bench-reference REF=path``: Paystate side by side with the reference gateway
(github.com/NagaSaiTejo/payment-gateway-async at 0d58a25, Node/Express/BullMQ/PostgreSQL, the
same seed) under the same load, and the ratios Paystate/reference.

Each round runs, one system after the other (reference first), on an empty PostgreSQL and Redis
instance of its own (scripts/services.sh: "reference" on 54370/63870, "bench-paystate" on
54371/63871):

1. create: ``bench/create_payment.lua`` under wrk (``create.run_wrk``), the same body, keys
   and TEST_MODE settings (payments fail 1 s after their create), c=64 after a 3 s warm-up;
2. end to end: N payments until each one's final webhook reached ``bench/receiver.py``
   (``e2e.run_e2e``), payments succeeding 1 ms after their create. Paystate's endpoint is
   subscribed to payment.success and payment.failed, the one webhook per payment that the
   reference sends; the reference's merchant gets the receiver as its webhook_url through its
   own API, and the receiver checks its hex HMAC signature.

Paystate runs as ``make run`` does (``serve --processes N``); the reference as its
docker-compose does, natively: one API process and one worker process. Prints each round, then
the medians and the median of each round's ratio Paystate/reference; exits 1 when a run lost a
request or a webhook.

Usage: python bench/reference.py --ref CHECKOUT [--rounds 2] [--seconds 20]
       [--concurrency 64] [--payments 1000] [--processes N] [--timeout 600] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import create
import e2e
from gateways import (
    free_port,
    gateway,
    machine_cpu_seconds,
    reference_gateway,
    service_pids,
    services,
)

# (instance name, PostgreSQL port, Redis port), apart from scripts/bench.sh's so that a
# `make bench-*` of another checkout does not stop this one from starting.
INSTANCES = {"reference": ("reference", 54370, 63870),
             "paystate": ("bench-paystate", 54371, 63871)}
SYSTEMS = ("reference", "paystate")


def start(system: str, args: argparse.Namespace, port: int,
          env: dict[str, str]) -> AbstractContextManager[list[int]]:
    if system == "reference":
        return reference_gateway(args.ref, port, env)
    return gateway("serve", port, env, args.processes)


def create_run(system: str, args: argparse.Namespace) -> dict[str, float]:
    """One wrk run at ``args.concurrency`` against ``system`` on an empty instance."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(create.TEST_SETTINGS) if system == "reference" else create.paystate_env(port)
    with services(*INSTANCES[system]) as urls, start(system, args, port, {**env, **urls}) as pids:
        order_id = create.make_order(base)
        roots = [("gateway", p) for p in pids] + service_pids(urls["DATABASE_URL"],
                                                              urls["REDIS_URL"])
        create.run_wrk(base, order_id, 3, 16, pids, "warmup", roots)
        busy = machine_cpu_seconds()
        r = create.run_wrk(base, order_id, args.seconds, args.concurrency, pids,
                           f"{system}-{time.time_ns()}", roots)
        measured = sum(v for k, v in r.items() if k.startswith("cpu ")) * r["requests"] / 1000
        return {**r, "outside_cpu_s": machine_cpu_seconds() - busy - measured}


def merchant_webhook(base: str) -> Callable[[str], tuple[str, list[str]]]:
    """``subscribe`` for ``e2e.run_e2e`` on the reference: its merchant's one webhook_url,
    set and given a fresh secret through its API (its seed leaves the secret empty)."""
    def subscribe(url: str) -> tuple[str, list[str]]:
        e2e.call(base, "PATCH", "/api/v1/merchant/webhook", {"webhook_url": url})
        secret = e2e.call(base, "POST", "/api/v1/merchant/webhook/regenerate")
        return str(secret["webhook_secret"]), ["every event (one per payment)"]
    return subscribe


def e2e_run(system: str, args: argparse.Namespace) -> dict[str, Any]:
    """``args.payments`` payments to their final webhook, ``system`` on an empty instance."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(e2e.TEST_SETTINGS) if system == "reference" else e2e.paystate_env(port)
    subscribe = merchant_webhook(base) if system == "reference" else \
        e2e.endpoint_subscriber(base, list(e2e.FINAL_EVENTS))
    with services(*INSTANCES[system]) as urls, start(system, args, port, {**env, **urls}) as pids:
        busy, own = machine_cpu_seconds(), self_cpu_seconds()
        r = e2e.run_e2e(base, pids, subscribe, args.payments, args.concurrency,
                        args.timeout, urls["DATABASE_URL"], urls["REDIS_URL"],
                        signatures="hex" if system == "reference" else "both")
        # The load generator is this process; the receiver's start-up is the rest's noise.
        measured = sum(r["cpu_ms_per_payment"].values()) * r["payments"] / 1000 + \
            self_cpu_seconds() - own
        return {**r, "outside_cpu_s": machine_cpu_seconds() - busy - measured}


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# What a round's line and the summary show: (label, how to read it from a round's results,
# format). A round's results are {"create": run_wrk's dict, "e2e": run_e2e's report}.
METRICS: list[tuple[str, Callable[[dict[str, Any]], float], str]] = [
    ("create req/s", lambda r: r["create"]["rps"], "{:.0f}"),
    ("create p99 ms", lambda r: r["create"]["p99_ms"], "{:.0f}"),
    ("CPU ms per create, all processes", lambda r: sum(
        v for k, v in r["create"].items() if k.startswith("cpu ")), "{:.2f}"),
    # RSS counts a page shared by several processes once in each; PSS divides it among them.
    ("RSS MB under create load", lambda r: r["create"]["rss_mb"], "{:.0f}"),
    ("PSS MB under create load", lambda r: r["create"]["pss_mb"], "{:.0f}"),
    ("payments/s end to end", lambda r: r["e2e"]["payments_per_s_end_to_end"], "{:.0f}"),
    ("payment to webhook p99 ms", lambda r: r["e2e"]["payment_to_webhook_p99_ms"], "{:.0f}"),
    ("CPU ms per payment, all processes", lambda r: sum(
        r["e2e"]["cpu_ms_per_payment"].values()), "{:.2f}"),
    ("RSS MB end to end", lambda r: r["e2e"]["rss_gateway_mb"], "{:.0f}"),
    ("PSS MB end to end", lambda r: r["e2e"]["pss_gateway_mb"], "{:.0f}"),
]


def problems(result: dict[str, Any]) -> Iterator[str]:
    c, e = result["create"], result["e2e"]
    if c["non2xx"] or c["errors"]:
        yield f"create: {c['non2xx']:.0f} non-2xx, {c['errors']:.0f} socket errors"
    for key in ("failed_requests", "missing", "duplicates", "bad_signatures"):
        if e[key]:
            yield f"end to end: {e[key]} {key.replace('_', ' ')}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", required=True,
                        help="a checkout of NagaSaiTejo/payment-gateway-async (commit 0d58a25)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="Paystate's HTTP processes (serve --processes)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", help="write every round's full results to this file")
    args = parser.parse_args()
    args.ref = os.path.abspath(args.ref)
    print(f"reference {args.ref} (1 API + 1 worker process) against Paystate (serve"
          f" --processes {args.processes}); {args.rounds} round(s) of create c={args.concurrency}"
          f" for {args.seconds} s and {args.payments} payments end to end; load average at"
          f" start {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rounds: list[dict[str, dict[str, Any]]] = []
    failed = False
    for n in range(1, args.rounds + 1):
        results: dict[str, dict[str, Any]] = {s: {} for s in SYSTEMS}
        for system in SYSTEMS:
            results[system]["create"] = create_run(system, args)
        for system in SYSTEMS:
            results[system]["e2e"] = e2e_run(system, args)
        for system in SYSTEMS:
            shown = ", ".join(f"{label} {fmt.format(get(results[system]))}"
                              for label, get, fmt in METRICS)
            print(f"round {n} {system:>9}: {shown}; CPU of other processes during create"
                  f" {results[system]['create']['outside_cpu_s']:.1f} s, end to end"
                  f" {results[system]['e2e']['outside_cpu_s']:.1f} s", flush=True)
            for problem in problems(results[system]):
                failed = True
                print(f"round {n} {system:>9}: PROBLEM {problem}", flush=True)
        rounds.append(results)
    print(f"\nmedian of {len(rounds)} round(s); the ratio is the median of each round's"
          " Paystate/reference")
    print(f"{'':<36} {'reference':>10} {'Paystate':>10} {'ratio':>7}")
    for label, get, fmt in METRICS:
        ref = statistics.median(get(r["reference"]) for r in rounds)
        ours = statistics.median(get(r["paystate"]) for r in rounds)
        ratio = statistics.median(get(r["paystate"]) / get(r["reference"]) for r in rounds
                                  if get(r["reference"]))
        print(f"{label:<36} {fmt.format(ref):>10} {fmt.format(ours):>10} {ratio:>7.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rounds": rounds}, f, indent=2)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
