"""The invariants of the chaos run, checked from PostgreSQL, the load's ledger and the
receiver's log once every piece of work is done. Each check returns a ``Result``: PASS or FAIL,
how many things it looked at, and counts that explain the verdict.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from chaos_cluster import Fault
from chaos_load import Ledger
from psycopg.rows import dict_row, tuple_row

SCHEDULE = (0, 5, 10, 15, 20)  # WEBHOOK_RETRY_INTERVALS_TEST
#: However many faults: no attempt waits longer than this past its due time.
MAX_LATE_S = 180.0
EVENTS_OF = {  # (entity_type, trigger) -> the events that transition emits
    ("payment", "create"): ("payment.created", "payment.pending"),
    ("payment", "succeed"): ("payment.success",),
    ("payment", "fail"): ("payment.failed",),
    ("payment", "decline_paid_order"): ("payment.failed",),
    ("payment", "capture"): ("payment.captured",),
    ("refund", "create"): ("refund.created",),
    ("refund", "process"): ("refund.processed",),
    ("refund", "fail"): ("refund.failed",),
}
#: The triggers that settle a payment: the bank's answer, or a decline because another payment
#: of the order succeeded first.
SETTLING = ("succeed", "fail", "decline_paid_order")
TABLES = {"order": "orders", "payment": "payments", "refund": "refunds",
          "webhook_delivery": "webhook_logs"}
#: The delivery triggers an attempt fires (one transition per attempt, made or late).
ATTEMPT_TRIGGERS = ("succeed", "fail_attempt", "give_up", "late_attempt")


@dataclass
class Result:
    name: str
    checked: int
    failures: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.counts.items())
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.checked} checked"
        if extra:
            head += f" ({extra})"
        if self.failures:
            head += f"; {len(self.failures)} violations, e.g. " + "; ".join(self.failures[:3])
        return head


def pending_work(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """What is not final yet; the drain waits for all zeros."""
    row = conn.cursor(row_factory=tuple_row).execute(
        "SELECT (SELECT count(*) FROM payments WHERE status = 'pending') AS payments,"
        " (SELECT count(*) FROM refunds WHERE status = 'pending') AS refunds,"
        " (SELECT count(*) FROM webhook_logs WHERE status IN ('pending', 'retrying'))"
        " AS deliveries").fetchone()
    assert row is not None
    counts = dict(zip(("payments", "refunds", "deliveries"), row, strict=True))
    counts["missing_deliveries"] = len(_missing_deliveries(conn)[0])
    return counts


def _expected_events(conn: psycopg.Connection[Any]) -> Counter[tuple[str, str]]:
    expected: Counter[tuple[str, str]] = Counter()
    for kind, entity_id, trigger in conn.cursor(row_factory=tuple_row).execute(
            "SELECT entity_type, entity_id, trigger FROM transitions"
            " WHERE entity_type IN ('payment', 'refund')"):
        for event in EVENTS_OF.get((kind, trigger), ()):
            expected[(entity_id, event)] += 1
    return expected


def _missing_deliveries(conn: psycopg.Connection[Any]) -> tuple[list[str], list[str], int]:
    expected = _expected_events(conn)
    made: Counter[tuple[str, str]] = Counter()
    for event, key in conn.cursor(row_factory=tuple_row).execute(
            "SELECT event, event_key FROM webhook_logs"):
        made[(key.split(":")[1], event)] += 1
    missing = [f"{e}:{k}" for (k, e), n in expected.items() if made[(k, e)] < n]
    extra = [f"{e}:{k}" for (k, e), n in made.items() if n > expected[(k, e)]]
    return missing, extra, sum(expected.values())


def check_all(database_url: str, ledger: Ledger, receiver_log: str, faults: list[Fault],
              workers_down: list[tuple[str, float, float]], reach_s: float,
              lease_s: float) -> list[Result]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        data = _load(conn)
        missing, extra, expected = _missing_deliveries(conn)
    received = _read_receiver(receiver_log)
    results = [
        _payments_settle_once(data),
        _creates_match_requests(data, ledger),
        _refunds(data, ledger),
        _orders_paid(data),
        _histories(data),
        _captures(data, ledger),
    ]
    deliveries_made = Result("every payment/refund event has exactly one delivery", expected)
    deliveries_made.failures += [f"missing {m}" for m in missing]
    deliveries_made.failures += [f"duplicate {x}" for x in extra]
    results.append(deliveries_made)
    results += _deliveries(data, received, faults, workers_down, reach_s, lease_s)
    return results


# -- loading ---------------------------------------------------------------------------------

def _load(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, table in TABLES.items():
        data[name] = {str(r["id"]): r for r in conn.execute(f"SELECT * FROM {table}")}
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute("SELECT * FROM transitions ORDER BY entity_id, seq"):
        history[r["entity_id"]].append(r)
    data["history"] = history
    # Each attempt is the transition it caused (its facts in the data), a late result's too.
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for did, steps in history.items():
        for t in steps:
            if t["entity_type"] == "webhook_delivery" and t["trigger"] in ATTEMPT_TRIGGERS:
                attempts[did].append(_attempt(t))
    for rows in attempts.values():
        rows.sort(key=lambda a: (a["at"], a["seq"]))
    data["attempts"] = attempts
    return data


def _attempt(t: dict[str, Any]) -> dict[str, Any]:
    """An attempt as its transition records it: number, start, response code."""
    d = t["data"]
    code = d.get("response_code")
    return {"attempt": int(d.get("attempt", 0)), "seq": t["seq"],
            "at": datetime.fromisoformat(d["attempted_at"]) if "attempted_at" in d else t["at"],
            "response_code": int(code) if code is not None else None}


def _read_receiver(path: str) -> dict[str, list[dict[str, Any]]]:
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        with open(path) as f:
            for line in f:
                if line.strip():
                    entry = json.loads(line)
                    by_id[str(entry.get("id"))].append(entry)
    except FileNotFoundError:
        pass
    return by_id


# -- payments, orders, refunds -----------------------------------------------------------------

def _payments_settle_once(data: dict[str, Any]) -> Result:
    res = Result("every payment final with exactly one settling transition", len(data["payment"]))
    states: Counter[str] = Counter()
    for pid, p in data["payment"].items():
        states[p["status"]] += 1
        settles = [t for t in data["history"][pid] if t["trigger"] in SETTLING]
        if p["status"] not in ("success", "failed"):
            res.failures.append(f"{pid} is {p['status']}")
        elif len(settles) != 1:
            res.failures.append(f"{pid} settled {len(settles)} times")
    res.counts = dict(states)
    return res


def _creates_match_requests(data: dict[str, Any], ledger: Ledger) -> Result:
    """Both directions: every 2xx create exists (with its marker), and every row exists because
    a request asked for it; a keyed create made at most one object however often retried."""
    res = Result("acknowledged creates exist; nothing exists that no request created", 0)
    marker = {
        "order": lambda r: (r["notes"] or {}).get("chaos"),
        "payment": lambda r: (r["vpa"] or "").split("@")[0] if r["method"] == "upi" else None,
        "refund": lambda r: r["reason"],
    }
    for kind in ("order", "payment", "refund"):
        rows = data[kind]
        by_marker: dict[str, list[str]] = defaultdict(list)
        for oid, row in rows.items():
            if (m := marker[kind](row)) is not None:
                by_marker[m].append(oid)
        requests = {c.rid: c for c in ledger.of(kind)}
        acked = [c for c in requests.values() if c.acked_id]
        res.checked += len(rows) + len(acked)
        res.counts[f"{kind}s"] = len(rows)
        res.counts[f"{kind}s_acked"] = len(acked)
        for c in acked:
            if len(c.acked_ids) > 1:
                res.failures.append(f"{kind} key {c.rid} answered {sorted(c.acked_ids)}")
            if c.acked_id not in rows:
                res.failures.append(f"acked {kind} {c.acked_id} does not exist")
            elif (kind != "payment" or c.method == "upi") \
                    and by_marker.get(c.rid) != [c.acked_id]:
                res.failures.append(f"acked {kind} {c.acked_id}: marker rows "
                                    f"{by_marker.get(c.rid)}")
        for m, ids in by_marker.items():
            if m not in requests:
                res.failures.append(f"{kind}s {ids} carry marker {m} that no request sent")
            elif len(ids) > 1:
                res.failures.append(f"{kind} request {m} made {len(ids)} objects: {ids}")
        unknown = sum(1 for c in requests.values() if not c.acked_id and c.rid in by_marker)
        res.counts[f"{kind}s_unacked_but_made"] = unknown
        if kind == "payment":  # card payments carry no marker: count them per order
            asked = Counter(c.parent for c in requests.values() if c.method == "card")
            made = Counter(r["order_id"] for r in rows.values() if r["method"] == "card")
            for order_id, n in made.items():
                if n > asked[order_id]:
                    res.failures.append(f"order {order_id} has {n} card payments, "
                                        f"{asked[order_id]} asked")
        if kind == "order":
            res.failures += [f"order {oid} has no marker" for oid, r in rows.items()
                             if marker["order"](r) is None]
    return res


def _refunds(data: dict[str, Any], ledger: Ledger) -> Result:
    res = Result("no payment over-refunded; every refund final; amounts add up",
                 len(data["refund"]) + len(data["payment"]))
    processed: Counter[str] = Counter()
    states: Counter[str] = Counter()
    for rid, r in data["refund"].items():
        states[r["status"]] += 1
        if r["status"] not in ("processed", "failed"):
            res.failures.append(f"refund {rid} is {r['status']}")
        if r["status"] == "processed":
            processed[r["payment_id"]] += int(r["amount"])
        if data["payment"][r["payment_id"]]["status"] != "success":
            res.failures.append(f"refund {rid} on a payment that is not success")
    for pid, p in data["payment"].items():
        if processed[pid] > p["amount"]:
            res.failures.append(f"{pid} refunded {processed[pid]} of {p['amount']}")
        if p["amount_refunded"] != processed[pid] or p["amount_refund_pending"] != 0:
            res.failures.append(f"{pid} amount_refunded={p['amount_refunded']} pending="
                                f"{p['amount_refund_pending']}, processed refunds {processed[pid]}")
    over = 0
    for pid, amount, tries in ledger.refund_races:
        granted = sum(part for part, status in tries if str(status).startswith("2"))
        if granted > amount:
            over += 1
            res.failures.append(f"race on {pid}: {granted} granted of {amount}")
    res.counts = {**states, "racing_refund_sets": len(ledger.refund_races),
                  "fully_refunded": sum(1 for pid, p in data["payment"].items()
                                        if processed[pid] == p["amount"])}
    return res


def _orders_paid(data: dict[str, Any]) -> Result:
    res = Result("every order with a successful payment is paid, by exactly one",
                 len(data["order"]))
    successes: dict[str, list[str]] = defaultdict(list)
    for pid, p in data["payment"].items():
        if p["status"] == "success":
            successes[p["order_id"]].append(pid)
    for oid, o in data["order"].items():
        wins = successes.get(oid, [])
        if len(wins) > 1:
            res.failures.append(f"order {oid} has {len(wins)} successful payments")
        if wins and o["status"] != "paid":
            res.failures.append(f"order {oid} has a success but is {o['status']}")
        if not wins and o["status"] == "paid":
            res.failures.append(f"order {oid} is paid without a successful payment")
    res.counts = {"paid": sum(1 for o in data["order"].values() if o["status"] == "paid"),
                  "orders_with_two_payments": sum(
                      1 for n in Counter(p["order_id"] for p in data["payment"].values()).values()
                      if n > 1)}
    return res


def _histories(data: dict[str, Any]) -> Result:
    res = Result("each row's state is its last transition's to_state; seq is 1..n unbroken", 0)
    for kind in TABLES:
        for oid, row in data[kind].items():
            res.checked += 1
            hist = data["history"].get(oid, [])
            seqs = [t["seq"] for t in hist]
            if seqs != list(range(1, len(hist) + 1)):
                res.failures.append(f"{kind} {oid} seqs {seqs}")
                continue
            if hist[-1]["to_state"] != row["status"] or hist[-1]["seq"] != row["version"]:
                res.failures.append(f"{kind} {oid} is {row['status']} v{row['version']}, last "
                                    f"transition {hist[-1]['to_state']} seq {hist[-1]['seq']}")
            for before, after in itertools.pairwise(hist):
                if after["from_state"] != before["to_state"]:
                    res.failures.append(f"{kind} {oid} jumps {before['to_state']} -> "
                                        f"{after['from_state']}")
    res.counts = {"transitions": sum(len(h) for h in data["history"].values())}
    return res


def _captures(data: dict[str, Any], ledger: Ledger) -> Result:
    res = Result("captures: once per payment, only when success, races have one winner",
                 len(data["payment"]) + len(ledger.capture_races))
    for pid, p in data["payment"].items():
        n = sum(1 for t in data["history"][pid] if t["trigger"] == "capture")
        if n != (1 if p["captured"] else 0) or (p["captured"] and p["status"] != "success"):
            res.failures.append(f"{pid} captured={p['captured']} with {n} capture transitions")
    for pid, codes in ledger.capture_races:
        if codes.count("200") > 1:
            res.failures.append(f"race on {pid}: {codes}")
    res.counts = {"captured": sum(1 for p in data["payment"].values() if p["captured"]),
                  "capture_races": len(ledger.capture_races)}
    return res


# -- webhook deliveries ----------------------------------------------------------------------

def _excuse(due: float, at: float, faults: list[Fault],
            workers_down: list[tuple[str, float, float]], lease_s: float) -> str | None:
    """Which fault let an attempt be later than the sweep's reach, or None. A fault counts if
    it struck within one lease before the attempt fell due, or before it was made: a worker
    killed while it held the delivery's lease keeps every process off it until the lease
    ends (30 s; again if the next holder dies too), and a restarted worker starts with the
    backlog of everything that fell due while it was down."""
    since = due - lease_s
    for f in faults:
        if f.kind == "pg_restart" and f.at <= at and (f.until or f.at) >= since:
            return "late_pg_down"
    moments = [t for _n, d, up in workers_down for t in (d, up) if since <= t <= at]
    for t in moments:
        if sum(1 for _n, d, up in workers_down if d <= t < up) >= 2:
            return "late_no_worker"
    if moments:
        return "late_worker_killed"
    if any(f.kind == "redis_restart" and since <= f.at <= at for f in faults):
        return "late_redis_restart"
    return None


def _deliveries(data: dict[str, Any], received: dict[str, list[dict[str, Any]]],
                faults: list[Fault], workers_down: list[tuple[str, float, float]],
                reach_s: float, lease_s: float) -> list[Result]:
    final = Result("every delivery succeeded, or failed after exactly 5 attempts; none "
                   "attempted after success", len(data["webhook_delivery"]))
    timing = Result(f"every attempt on schedule: never early; late by at most the sweep's reach"
                    f" ({reach_s:g} s) unless a fault struck within a lease of it (then at most"
                    f" {MAX_LATE_S:g} s)", 0)
    once = Result("each webhook-id answered 2xx at most once, except after a crash mid-attempt",
                  len(data["webhook_delivery"]))
    signed = Result("every request the receiver got is signed and belongs to a delivery",
                    sum(len(v) for v in received.values()))
    states: Counter[str] = Counter()
    late: Counter[str] = Counter({"on_time_1s": 0, "within_reach": 0})
    max_late = 0.0
    crash_dups = unrecorded = 0
    for did, d in data["webhook_delivery"].items():
        states[d["status"]] += 1
        rows = data["attempts"].get(did, [])
        numbers = [a["attempt"] for a in rows]
        got = received.get(did, [])
        # POSTs the receiver saw that no attempt row records: the sender's process died (or
        # lost PostgreSQL) before recording; that attempt is made again after its lease.
        lost = max(0, len(got) - len(rows))
        unrecorded += lost
        if d["status"] == "failed":
            if d["attempts"] != 5 or sorted(set(numbers)) != [1, 2, 3, 4, 5]:
                final.failures.append(f"{did} failed after attempts {numbers}")
            if any(a["response_code"] and 200 <= a["response_code"] < 300 for a in rows):
                final.failures.append(f"{did} failed but an attempt got a 2xx")
        elif d["status"] == "succeeded":
            wins = [a for a in rows if a["response_code"] and 200 <= a["response_code"] < 300]
            if len(wins) != 1 or wins[0]["attempt"] != max(numbers):
                final.failures.append(f"{did} succeeded: attempts {numbers}, wins {len(wins)}")
            elif any(a["at"] > wins[0]["at"] for a in rows):
                final.failures.append(f"{did} attempted after its success")
        else:
            final.failures.append(f"{did} is {d['status']}")
        if len(numbers) != len(set(numbers)):
            final.failures.append(f"{did} recorded attempt numbers {numbers}")
        # Schedule: attempt 1 is due at creation, attempt n+1 at the failure of n + SCHEDULE[n].
        due_at: dict[int, datetime] = {}
        for t in data["history"].get(did, []):
            if t["trigger"] == "create":
                due_at[1] = t["at"]
            elif t["trigger"] == "fail_attempt":
                n = int(t["data"].get("attempt", 0))
                due_at[n + 1] = t["at"] + _seconds(SCHEDULE[n])
        for a in rows:
            due = due_at.get(a["attempt"])
            if due is None:
                continue
            timing.checked += 1
            delay = (a["at"] - due).total_seconds()
            max_late = max(max_late, delay)
            if delay < -0.05:
                timing.failures.append(f"{did} attempt {a['attempt']} {-delay:.2f} s early")
            elif delay <= 1.0:
                late["on_time_1s"] += 1
            elif delay <= reach_s:
                late["within_reach"] += 1
            elif lost:
                late["late_crash_mid_attempt"] += 1
            elif delay <= MAX_LATE_S and (why := _excuse(
                    due.timestamp(), a["at"].timestamp(), faults, workers_down, lease_s)):
                late[why] += 1
            else:
                timing.failures.append(f"{did} attempt {a['attempt']} {delay:.1f} s late"
                                       f" (due {due.timestamp():.1f})")
        oks = [g for g in got if g.get("answer") == 200]
        if len(oks) > 1:
            if lost:
                crash_dups += 1
            else:
                once.failures.append(f"{did} answered 2xx {len(oks)} times, none lost")
        if d["status"] == "succeeded" and oks:
            after = [g for g in got if g["at"] > oks[0]["at"]]
            if after and not lost:
                final.failures.append(f"{did}: {len(after)} POSTs after its success")
        for g in got:
            if not g.get("sig_ok"):
                signed.failures.append(f"{did}: bad signature")
    for wid in received:
        if wid not in data["webhook_delivery"]:
            signed.failures.append(f"receiver got webhook-id {wid} that no delivery has")
    final.counts = {**states, "attempts": sum(len(v) for v in data["attempts"].values())}
    timing.counts = {**late, "max_late_s": round(max_late, 2)}
    once.counts = {"duplicate_success_after_crash": crash_dups,
                   "posts_not_recorded (crash mid-attempt)": unrecorded}
    signed.counts = {"received": signed.checked}
    return [final, timing, once, signed]


def _seconds(n: int) -> timedelta:
    return timedelta(seconds=n)
