"""``make bench-interleaved``: ``make bench-e2e`` on two checkouts in turn (before, after,
before, after, ...), then PostgreSQL's work per payment on each side and its per-statement
breakdown, from the runs' own ``pg_stat_statements`` figures.

Absolute figures on these machines drift by up to 2x from hour to hour; runs alternated within
minutes see the same drift, so the ratio between the two sides holds where a figure from
another hour does not. Each run starts its own empty bench instance (``scripts/bench.sh``).

Usage: python bench/interleaved.py --before CHECKOUT --after CHECKOUT [--rounds 3]
       [--payments 2000] [--top 12]
Each checkout needs its own ``make venv``; e.g. for the commit before a change:
``git worktree add --detach /tmp/before COMMIT && make -C /tmp/before venv``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from typing import Any

from pg_statements import shape

# Per payment, from each run's JSON report: (label, path into the report).
FIGURES = (
    ("PostgreSQL CPU ms (/proc)", ("cpu_ms_per_payment", "PostgreSQL")),
    ("statement execution ms", ("pg_statements", "statement_exec_ms_per_payment")),
    ("statement calls", ("pg_statements", "calls_per_payment")),
    ("rows written or read", ("pg_statements", "rows_per_payment")),
    ("buffers dirtied", ("pg_statements", "shared_blks_dirtied_per_payment")),
    ("WAL bytes (all)", ("pg_statements", "wal_bytes_per_payment_all")),
    ("API processes CPU ms", ("cpu_ms_per_payment", "gateway api")),
    ("worker CPU ms", ("cpu_ms_per_payment", "gateway worker")),
    ("payments/s end to end", ("payments_per_s_end_to_end",)),
)


def run(checkout: str, payments: int) -> dict[str, Any]:
    """One ``make bench-e2e`` in ``checkout``; its JSON report (the last lines it prints)."""
    out = subprocess.run(["make", "-s", "-C", checkout, "bench-e2e",
                          f"ARGS=--payments {payments} --pg-top 200"],
                         capture_output=True, text=True, check=False).stdout
    start = out.rfind("\n{")
    if start < 0:
        raise SystemExit(f"no report from {checkout}:\n{out[-2000:]}")
    return dict(json.loads(out[start:]))


def figure(report: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = report
    for key in path:
        value = value[key]
    return float(value)


def statements(report: dict[str, Any]) -> dict[str, float]:
    """Execution ms per payment by statement shape, top-level statements only."""
    out: dict[str, float] = defaultdict(float)
    for s in report["pg_statements"]["top"]:
        if s["level"] == "top":
            out[shape(s["query"])] += s["exec_ms_per_payment"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    sides = {"before": args.before, "after": args.after}
    reports: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for n in range(args.rounds):
        for side, checkout in sides.items():
            reports[side].append(run(checkout, args.payments))
            last = reports[side][-1]
            print(f"round {n + 1} {side}: PostgreSQL "
                  f"{figure(last, FIGURES[0][1]):.3f} ms/payment, "
                  f"{last['payments_per_s_end_to_end']} payments/s", file=sys.stderr)

    print(f"Per payment, {args.rounds} interleaved rounds of make bench-e2e"
          f" --payments {args.payments} (median, min-max)")
    print(f"{'':32} {'before':>24} {'after':>24} {'after/before':>12}")
    for label, path in FIGURES:
        cells = []
        medians = []
        for side in sides:
            values = [figure(r, path) for r in reports[side]]
            medians.append(statistics.median(values))
            fmt = "{:,.0f}" if medians[-1] >= 100 else "{:.3f}"
            cells.append(f"{fmt.format(medians[-1])} ({fmt.format(min(values))}"
                         f"-{fmt.format(max(values))})")
        ratio = medians[1] / medians[0] if medians[0] else float("nan")
        print(f"{label:32} {cells[0]:>24} {cells[1]:>24} {ratio:>12.2f}")

    for side, checkout in sides.items():
        merged: dict[str, list[float]] = defaultdict(list)
        for r in reports[side]:
            for name, ms in statements(r).items():
                merged[name].append(ms)
        rows = sorted(((statistics.mean(v + [0.0] * (args.rounds - len(v))), name)
                       for name, v in merged.items()), reverse=True)
        total = sum(ms for ms, _ in rows)
        print(f"\n{side} ({checkout}): statement execution ms per payment, mean of the"
              f" rounds; total {total:.3f}")
        for ms, name in rows[:args.top]:
            print(f"  {ms:7.3f}  {100 * ms / total:5.1f}%  {name[:110]}")


if __name__ == "__main__":
    main()
