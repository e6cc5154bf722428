"""PostgreSQL's own account of a bench's measured phase, from ``pg_stat_statements``: which
statements its time went to, and the totals per payment.

The bench instance loads the extension (``scripts/bench.sh`` runs ``scripts/services.sh up
--stat-statements``: track = all, compute_query_id on, the paystate role may reset). ``start``
zeroes the statistics right before the phase, ``finish`` reads them right after. Against a
server without the extension both return why, and the bench goes on without these figures.

What the figures are (PostgreSQL 15, pg_stat_statements 1.10):

- ``exec_ms``: ``total_exec_time``, wall-clock time inside the executor (or a utility
  command), summed over calls. It includes waiting for locks, for I/O and for a core; it
  leaves out parsing, planning (track_planning is off), the commit's WAL flush (which happens
  after the statement, at transaction end) and the client protocol. It is not CPU time: the
  benches read PostgreSQL's CPU from /proc beside it.
- ``calls``; ``rows``, rows returned or changed (a batch commit returns one row: its check);
  ``shared_blks_hit``, buffer-cache hits; ``shared_blks_dirtied``, clean buffers the statement
  dirtied; ``shared_blks_written``, dirty buffers the backend had to write out itself to free
  one; ``wal_bytes``, the WAL it generated (full-page images included).
- Each distinct statement text is one row: the batch commit (engine/unit_of_work.py) is one
  statement per combination of tables and columns in a batch, so a "call" is a batch of
  commands, and the creates, settlements and webhook records each have several rows.
- A statement run inside a function or trigger (``toplevel`` false, "nested") is counted
  on its own row *and* inside its top-level statement's row; totals sum top-level rows only.
- ``wal_bytes_per_payment_all``: how far the WAL insert position moved over the phase, from every source
  (statements, commit records, autovacuum, full-page images of checkpoints).

Only statements of the connection's database are read; the bench's own (reset, read) are left
out. Runs on the caller's thread; opens one short connection per call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import psycopg

# The bench's own statements name the view or its functions; the gateway's never do.
_READ = """
SELECT s.queryid, s.toplevel, s.calls, s.total_exec_time, s.rows, s.shared_blks_hit,
       s.shared_blks_dirtied, s.shared_blks_written, s.wal_bytes, s.query
  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = current_database() AND s.query NOT LIKE '%%pg_stat_statements%%'
 ORDER BY s.total_exec_time DESC
"""
_FIELDS = ("queryid", "toplevel", "calls", "exec_ms", "rows", "shared_blks_hit", "shared_blks_dirtied",
           "shared_blks_written", "wal_bytes", "query")


@dataclass(frozen=True)
class Mark:
    """Where the measured phase started: the WAL insert position after the reset."""

    wal_lsn: str


def start(database_url: str) -> Mark | str:
    """Zero every statement's statistics; return the phase's start, or why there are none."""
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_stat_statements_reset(), pg_current_wal_lsn()::text"
                               ).fetchone()
    except psycopg.Error as e:  # not installed, not preloaded, or no right to reset
        return f"pg_stat_statements unavailable: {(e.diag.message_primary or str(e)).strip()}"
    assert row is not None
    return Mark(str(row[1]))


def finish(database_url: str, mark: Mark, payments: int, top: int) -> dict[str, Any]:
    """The statistics since ``start``: totals per payment over top-level statements, and the
    ``top`` statements (top-level and nested alike) by execution time."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = [dict(zip(_FIELDS, r, strict=True)) for r in conn.execute(_READ).fetchall()]
        evicted = conn.execute("SELECT dealloc FROM pg_stat_statements_info").fetchone()
        wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)",
                           (mark.wal_lsn,)).fetchone()
    assert evicted is not None and wal is not None
    n = max(payments, 1)
    toplevel = [r for r in rows if r["toplevel"]]
    exec_ms = sum(r["exec_ms"] for r in toplevel)
    return {
        "statement_exec_ms_per_payment": round(exec_ms / n, 3),
        "calls_per_payment": round(sum(r["calls"] for r in toplevel) / n, 2),
        "rows_per_payment": round(sum(r["rows"] for r in toplevel) / n, 2),
        "shared_blks_dirtied_per_payment": round(
            sum(r["shared_blks_dirtied"] for r in toplevel) / n, 2),
        "wal_bytes_per_payment": round(sum(int(r["wal_bytes"]) for r in toplevel) / n),
        "wal_bytes_per_payment_all": round(int(wal[0]) / n),
        "payments": payments, "statements": len(toplevel), "nested_statements": len(rows) - len(toplevel),
        # Entries the view dropped for lack of room (pg_stat_statements.max): totals are short.
        "evicted_entries": int(evicted[0]),
        "top": [_entry(r, exec_ms, n) for r in rows[:top]],
    }


def _entry(r: dict[str, Any], total_ms: float, n: int) -> dict[str, Any]:
    return {
        "queryid": r["queryid"], "level": "top" if r["toplevel"] else "nested",
        "exec_ms": round(r["exec_ms"], 1), "exec_ms_per_payment": round(r["exec_ms"] / n, 3),
        "share": round(r["exec_ms"] / total_ms, 3) if total_ms else 0.0,
        "calls": r["calls"], "mean_ms": round(r["exec_ms"] / r["calls"], 3) if r["calls"] else 0,
        "rows": r["rows"], "shared_blks_hit": r["shared_blks_hit"],
        "shared_blks_dirtied": r["shared_blks_dirtied"],
        "shared_blks_written": r["shared_blks_written"], "wal_bytes": int(r["wal_bytes"]),
        "query": " ".join(r["query"].split()),
    }


# The steps of engine/unit_of_work.py's batch statement: one CTE per table and verb.
_BATCH_STEP = re.compile(r'FROM "(\w+)" WHERE id = ANY\(\$\d+\) AND status = \$\d+ FOR (SHARE)'
                         r'|(INSERT) INTO "(\w+)" \(|(UPDATE) "(\w+)" AS t SET')


def shape(query: str) -> str:
    """A one-line name for ``query``: a batch commit (thousands of characters of column lists)
    as its steps, e.g. "batch: share orders; insert payments, transitions; update orders"; the
    state-count trigger's upserts by operation; any other statement as itself, whitespace
    collapsed."""
    if query.startswith("INSERT INTO state_counts") and "TG_ARGV" in query:
        # migration 016's trigger, one statement per operation (the table is not in the text)
        if "old_rows" not in query:
            op = "insert"
        else:
            op = "update" if "new_rows" in query else "delete"
        return f"state_counts trigger after {op}"
    if not query.startswith("WITH ") or "jsonb_populate_recordset" not in query:
        return " ".join(query.split())
    steps: dict[str, list[str]] = {"share": [], "insert": [], "update": []}
    for m in _BATCH_STEP.finditer(query):
        share_table, insert_table, update_table = m.group(1, 4, 6)
        verb, table = (("share", share_table) if share_table else
                       ("insert", insert_table) if insert_table else ("update", update_table))
        steps[verb].append(table)
    return "batch: " + "; ".join(f"{verb} {', '.join(tables)}"
                                 for verb, tables in steps.items() if tables)


_HEAD = (" total ms   ms/pay  share    calls calls/pay  mean ms     rows      hit  dirtied"
         "  written   WAL bytes  query")


def table(summary: dict[str, Any], pg_cpu_ms: float | None, query_width: int = 90) -> str:
    """``finish``'s summary as text: the top statements, one line each, then the totals per
    payment beside PostgreSQL's CPU per payment (from /proc, when measured)."""
    n = summary["payments"] or 1
    lines = [] if not summary["top"] else [
        (f"PostgreSQL's top {len(summary['top'])} statements by execution time over the measured"
         f" phase ({summary['payments']} payments; pg_stat_statements)"),
        ("  share: of all top-level execution time. '> ': run inside a function or trigger,"
         " and counted in its caller's line too"),
        _HEAD,
    ]
    for e in summary["top"]:
        query = ("> " if e["level"] == "nested" else "") + shape(e["query"])
        if len(query) > query_width:
            query = query[:query_width - 3] + "..."
        lines.append(f"{e['exec_ms']:9.1f} {e['exec_ms_per_payment']:8.3f} {e['share']:6.1%}"
                     f" {e['calls']:8d} {e['calls'] / n:9.2f} {e['mean_ms']:8.3f}"
                     f" {e['rows']:8d} {e['shared_blks_hit']:8d} {e['shared_blks_dirtied']:8d}"
                     f" {e['shared_blks_written']:8d} {e['wal_bytes']:11d}  {query}")
    cpu = f"{pg_cpu_ms:.3f} ms" if pg_cpu_ms is not None else "not measured"
    per_payment = [
        ("CPU of all its processes (/proc, user + system)", cpu),
        ("statement execution (top-level total_exec_time)",
         (f"{summary['statement_exec_ms_per_payment']:.3f} ms  (wall time in the executor:"
          " no parse, plan or commit flush; lock and CPU waits included)")),
        ("statement calls (top-level)", f"{summary['calls_per_payment']:.2f}"),
        ("WAL bytes from statements / in all",
         (f"{summary['wal_bytes_per_payment']} / {summary['wal_bytes_per_payment_all']}"
          "  (in all: how far the WAL position moved)")),
    ]
    lines.append("Per payment, PostgreSQL:")
    lines += [f"  {label:<50} {value}" for label, value in per_payment]
    if summary["evicted_entries"]:
        lines.append(f"Warning: {summary['evicted_entries']} entries evicted"
                     " (pg_stat_statements.max): the totals are short.")
    return "\n".join(lines)


def json_text(report: dict[str, Any]) -> str:
    """``report`` as indented JSON, with each of ``report["pg_statements"]["top"]`` on one
    line, so that the top statements do not take 15 lines each."""
    pg = report.get("pg_statements")
    if not isinstance(pg, dict) or not pg.get("top"):
        return json.dumps(report, indent=2)
    marks = [f"@@pg_statement_{i}@@" for i in range(len(pg["top"]))]
    text = json.dumps({**report, "pg_statements": {**pg, "top": marks}}, indent=2)
    for mark, entry in zip(marks, pg["top"], strict=True):
        text = text.replace(json.dumps(mark), json.dumps(entry), 1)
    return text
