"""``make bench-memory``: where the memory of ``serve --processes N`` goes under a long create
load and after it, process by process.

Starts the gateway as ``make run`` does (``gateways.gateway("serve")``: a supervisor, N
``api --reuse-port --webhooks`` children, one ``worker``), makes one order and drives
``--creates`` payment creates at it (``bench/create_payment.lua`` under wrk, as ``make
bench-create`` does, with its TEST_MODE settings: each payment fails 1 s after its create, so
the worker settles them all during the load), then leaves the gateway idle ``--idle-minutes``.
Every ``--interval`` seconds, through both phases, it reads each process of the tree from
``/proc/PID/smaps_rollup``: RSS, PSS and anonymous memory. RSS counts a page shared by k
processes (a forked child's pages still shared with its parent, the interpreter and libraries
every process maps) once in each of them; PSS counts 1/k in each, so the PSS column adds up to
what the tree costs the machine. Prints the samples as they come, then each process at the
start, at the end of the load and at the end of the idle time: what grows under load, and
whether it stays (a leak) or is bounded (caches that stop at their size).

wrk runs in pieces of ``--interval`` seconds (the last one shortened to the rate so far) until
the creates are made, so the count is reached within a few hundred requests.

Usage: DATABASE_URL=... REDIS_URL=... python bench/memory.py [--creates 200000]
       [--idle-minutes 10] [--interval 10] [--concurrency 64] [--processes 2]
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from dataclasses import dataclass, field

from create import make_order, paystate_env, wrk_creates
from gateways import free_port, gateway, smaps_rollup_kb, tree_processes

# What one sample keeps of a process, in MB: smaps_rollup's Rss, Pss, Anonymous.
FIELDS = ("Rss", "Pss", "Anonymous")


@dataclass
class Sample:
    at_s: float
    phase: str
    creates: int
    # label -> {"Rss": MB, "Pss": MB, "Anonymous": MB}
    processes: dict[str, dict[str, float]] = field(default_factory=dict)

    def total(self, name: str) -> float:
        return sum(p[name] for p in self.processes.values())


class Labels:
    """Stable names for a tree's processes: its role and a number among its kind (serve,
    api1, api2, worker), so that a child restarted under another pid keeps its column."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def name(self, tree: list[tuple[int, str]]) -> dict[int, str]:
        named: dict[int, str] = {}
        count: dict[str, int] = {}
        for pid, role in sorted(tree, key=lambda pr: (pr[1] != "serve", pr[1], pr[0])):
            count[role] = count.get(role, 0) + 1
            label = role if role in ("serve", "worker") else f"{role}{count[role]}"
            named[pid] = label
            if label not in self.order:
                self.order.append(label)
        return named


def sample(root: int, labels: Labels, started: float, phase: str, creates: int) -> Sample:
    s = Sample(at_s=time.monotonic() - started, phase=phase, creates=creates)
    for pid, label in labels.name(tree_processes(root)).items():
        kb = smaps_rollup_kb(pid)
        if kb:
            s.processes[label] = {f: kb.get(f, 0) / 1024 for f in FIELDS}
    return s


def print_header(labels: list[str]) -> None:
    print("each process: RSS/PSS MB; total: RSS/PSS (anonymous) MB", flush=True)
    print(f"{'t s':>6} {'phase':<5} {'creates':>8} "
          + " ".join(f"{label:>9}" for label in labels) + f" {'total':>17}", flush=True)


def print_sample(s: Sample, labels: list[str]) -> None:
    cells = []
    for label in labels:
        p = s.processes.get(label)
        cells.append(f"{p['Rss']:>4.0f}/{p['Pss']:<4.0f}" if p else f"{'-':>9}")
    total = f"{s.total('Rss'):.0f}/{s.total('Pss'):.0f} ({s.total('Anonymous'):.0f})"
    print(f"{s.at_s:>6.0f} {s.phase:<5} {s.creates:>8} " + " ".join(cells)
          + f" {total:>17}", flush=True)


def run_wrk(base: str, order_id: str, seconds: int, connections: int, tag: str) -> int:
    """One piece of the load; returns the creates it made (non-2xx answers fail the bench)."""
    fields = wrk_creates(base, order_id, seconds, connections, tag)
    if fields["non2xx"]:
        raise SystemExit(f"{int(fields['non2xx'])} creates were refused: {fields}")
    return int(fields["requests"])


def summary(samples: list[Sample], labels: list[str]) -> None:
    start = samples[0]
    end_load = next(s for s in reversed(samples) if s.phase == "load")
    end = samples[-1]
    print(f"\nper process, MB: start -> end of load ({end_load.creates} creates,"
          f" {end_load.at_s:.0f} s) -> end of idle ({end.at_s - end_load.at_s:.0f} s later)")
    print(f"{'':<8} " + " ".join(f"{f'{f} start/load/idle':>26}" for f in FIELDS))
    for label in [*labels, "total"]:
        cells = []
        for f in FIELDS:
            if label == "total":
                vals = [s.total(f) for s in (start, end_load, end)]
            else:
                vals = [s.processes.get(label, {}).get(f, float("nan"))
                        for s in (start, end_load, end)]
            cells.append(f"{'/'.join(f'{v:.0f}' for v in vals):>26}")
        print(f"{label:<8} " + " ".join(cells))
    peak = max(samples, key=lambda s: s.total("Pss"))
    print(f"peak total: RSS {max(s.total('Rss') for s in samples):.0f} MB, PSS"
          f" {peak.total('Pss'):.0f} MB (at {peak.at_s:.0f} s, {peak.phase})")
    idle = [s for s in samples if s.phase == "idle"]
    if idle:
        # Anonymous memory is the tree's own; PSS also moves with processes outside the tree
        # that map the same files (every pyenv Python maps the same libpython).
        print("idle drift (last idle sample - first): "
              + ", ".join(f"{f} {idle[-1].total(f) - idle[0].total(f):+.1f} MB"
                          for f in ("Rss", "Anonymous", "Pss")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=200_000)
    parser.add_argument("--idle-minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2,
                        help="serve --processes N (make run's layout on a 2-core machine)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"serve --processes {args.processes}: {args.creates} creates at c={args.concurrency},"
          f" then {args.idle_minutes:g} min idle; a sample every {args.interval:g} s", flush=True)
    labels = Labels()
    samples: list[Sample] = []
    state = {"phase": "start", "creates": 0}
    with gateway("serve", port, paystate_env(port), args.processes) as (root,):
        order_id = make_order(base)
        started = time.monotonic()
        samples.append(sample(root, labels, started, "start", 0))
        print_header(labels.order)
        print_sample(samples[0], labels.order)
        stop = threading.Event()

        def sampler() -> None:
            while not stop.wait(args.interval):
                s = sample(root, labels, started, state["phase"], state["creates"])
                samples.append(s)
                print_sample(s, labels.order)

        thread = threading.Thread(target=sampler, daemon=True)
        state["phase"] = "load"
        thread.start()
        load_started = time.monotonic()
        while state["creates"] < args.creates:
            rate = state["creates"] / (time.monotonic() - load_started) \
                if state["creates"] else 0.0
            left = args.creates - state["creates"]
            seconds = int(args.interval) if not rate else \
                max(1, min(int(args.interval), round(left / rate)))
            state["creates"] += run_wrk(base, order_id, seconds, args.concurrency,
                                        f"mem{len(samples)}-{time.time_ns()}")
        load_s = time.monotonic() - load_started
        stop.set()
        thread.join()
        samples.append(sample(root, labels, started, "load", state["creates"]))
        print_sample(samples[-1], labels.order)
        print(f"load done: {state['creates']} creates in {load_s:.0f} s"
              f" ({state['creates'] / load_s:.0f}/s); idle now", flush=True)
        state["phase"] = "idle"
        deadline = time.monotonic() + args.idle_minutes * 60
        while time.monotonic() < deadline:
            time.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))
            samples.append(sample(root, labels, started, "idle", state["creates"]))
            print_sample(samples[-1], labels.order)
    summary(samples, labels.order)


if __name__ == "__main__":
    main()
