"""The load of the chaos run: a few asyncio flows of orders, payments, captures and refunds.

Each flow loops until told to stop: create an order, pay it (sometimes twice at once, UPI and
card, as a shopper switching methods), wait for the payment to settle, then capture it
(sometimes two captures racing) and refund it (nothing, in full, in parts, or three refunds
racing for more than the payment holds). Requests go to whichever API process answers.

Every creating request carries a marker the checker finds again in PostgreSQL (order
``notes.chaos``, payment ``vpa`` for UPI, refund ``reason``), so the ledger can prove both
directions: every 2xx create exists, and nothing exists that no request asked for. A share of
creates carry an ``Idempotency-Key`` and are retried with it after a 5xx, a 409 or a dropped
connection (the key must make the retries create at most one object); the others are sent once,
except when the connection was refused (nothing was sent).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
CARD = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2035,
        "cvv": "123", "holder_name": "Chaos Shopper"}
KEYED_SHARE = 0.4
KEYED_TRIES = 12
REQUEST_TIMEOUT_S = 15.0


@dataclass
class Create:
    """One logical create (all tries of one Idempotency-Key, or a single unkeyed request)."""
    kind: str  # order | payment | refund
    rid: str  # the marker, and the Idempotency-Key when keyed
    keyed: bool
    parent: str | None  # the order of a payment, the payment of a refund
    method: str | None = None  # payments
    amount: int | None = None  # orders and refunds
    outcomes: list[str] = field(default_factory=list)  # "201", "503", "error", ...
    acked_id: str | None = None  # the id a 2xx answer carried
    acked_ids: set[str] = field(default_factory=set)  # every id a 2xx answer carried


@dataclass
class Ledger:
    creates: list[Create] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)  # by operation
    answers: Counter[str] = field(default_factory=Counter)  # by status class / error
    capture_races: list[tuple[str, list[str]]] = field(default_factory=list)
    refund_races: list[tuple[str, int, list[tuple[int, str]]]] = field(default_factory=list)
    bad_5xx: list[str] = field(default_factory=list)  # 5xx answers outside the envelope / not 503

    def of(self, kind: str) -> list[Create]:
        return [c for c in self.creates if c.kind == kind]


class Load:
    """Runs ``flows`` concurrent flows against ``bases`` until ``stop`` is set."""

    def __init__(self, bases: list[str], flows: int, rng: random.Random) -> None:
        self.bases = bases
        self.flows = flows
        self.rng = rng
        self.ledger = Ledger()
        self.stop = asyncio.Event()
        self._next = 0

    async def run(self) -> Ledger:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout, headers=AUTH) as session:
            self.session = session
            await asyncio.gather(*(self._flow_loop() for _ in range(self.flows)))
        return self.ledger

    # -- HTTP ----------------------------------------------------------------------------

    def _base(self) -> str:
        self._next += 1
        return self.bases[self._next % len(self.bases)]

    async def _call(self, op: str, method: str, path: str, body: Any = None,
                    headers: dict[str, str] | None = None) -> tuple[str, Any]:
        """One request; a refused connection (process down: nothing was sent) moves on to the
        other API process. Returns (status or "error", parsed body or None)."""
        for _ in range(2 * len(self.bases)):
            base = self._base()
            self.ledger.ops[op] += 1
            try:
                async with self.session.request(method, base + path, json=body,
                                                headers=headers) as r:
                    raw = await r.read()
                    data = _json(raw)
                    status = r.status
            except aiohttp.ClientConnectorError:
                self.ledger.answers["refused"] += 1
                await asyncio.sleep(0.2)
                continue
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.ledger.answers["error"] += 1
                return f"error:{type(exc).__name__}", None
            self.ledger.answers[f"{status // 100}xx"] += 1
            if status >= 500:
                self.ledger.answers[str(status)] += 1
                if status != 503 or not _envelope(data):
                    self.ledger.bad_5xx.append(f"{method} {path} -> {status} {raw[:200]!r}")
            return str(status), data
        return "error:refused", None

    async def _create(self, rec: Create, path: str, body: dict[str, Any]) -> dict | None:
        """Send a create, retrying a keyed one until an answer that is not a 5xx/409/error."""
        self.ledger.creates.append(rec)
        headers = {"Idempotency-Key": rec.rid} if rec.keyed else None
        tries = KEYED_TRIES if rec.keyed else 1
        for attempt in range(tries):
            status, data = await self._call("create_" + rec.kind, "POST", path, body, headers)
            rec.outcomes.append(status)
            if status.startswith("2") and isinstance(data, dict) and "id" in data:
                rec.acked_id = data["id"]
                rec.acked_ids.add(data["id"])
                return data
            retryable = status.startswith(("error", "5")) or status == "409"
            if not retryable or attempt == tries - 1 or self.stop.is_set() and attempt > 3:
                return None
            await asyncio.sleep(0.5 + self.rng.random() * 1.5)
        return None

    # -- the flow ------------------------------------------------------------------------

    async def _flow_loop(self) -> None:
        while not self.stop.is_set():
            try:
                await self._flow()
            except Exception as exc:  # noqa: BLE001 - a flow must never end the run
                self.ledger.answers[f"flow-bug:{type(exc).__name__}"] += 1
                await asyncio.sleep(0.5)

    def _rid(self) -> str:
        return "c" + uuid.uuid4().hex[:20]

    def _keyed(self) -> bool:
        return self.rng.random() < KEYED_SHARE

    async def _flow(self) -> None:
        rng = self.rng
        amount = rng.randrange(1000, 200_000)
        rid = self._rid()
        order = await self._create(Create("order", rid, self._keyed(), None, amount=amount),
                                   "/api/v1/orders",
                                   {"amount": amount, "receipt": rid, "notes": {"chaos": rid}})
        if order is None:
            return
        methods = ["upi", "card"] if rng.random() < 0.15 else [rng.choice(["upi", "upi", "card"])]
        made = await asyncio.gather(*(self._pay(order["id"], m) for m in methods))
        payments = [p for p in made if p is not None]
        settled = await asyncio.gather(*(self._settled(p["id"]) for p in payments))
        for payment in settled:
            if payment is None or payment.get("status") != "success" or self.stop.is_set():
                continue
            await self._after_success(payment)

    async def _pay(self, order_id: str, method: str) -> dict | None:
        rid = self._rid()
        body: dict[str, Any] = {"order_id": order_id, "method": method}
        if method == "upi":
            body["vpa"] = f"{rid}@chaos"
        else:
            body["card"] = CARD
        return await self._create(Create("payment", rid, self._keyed(), order_id, method=method),
                                  "/api/v1/payments", body)

    async def _settled(self, payment_id: str) -> dict | None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.stop.is_set():
            await asyncio.sleep(0.6)
            status, data = await self._call("read_payment", "GET",
                                            f"/api/v1/payments/{payment_id}")
            if status == "200" and isinstance(data, dict) and data.get("status") != "pending":
                return data
        return None

    async def _after_success(self, payment: dict) -> None:
        rng = self.rng
        pid, amount = payment["id"], int(payment["amount"])
        roll = rng.random()
        if roll < 0.15:
            codes = await asyncio.gather(*(self._capture(pid) for _ in range(2)))
            self.ledger.capture_races.append((pid, list(codes)))
        elif roll < 0.55:
            await self._capture(pid)
        roll = rng.random()
        if roll < 0.25:
            return
        if roll < 0.5:
            await self._refund(pid, amount)
        elif roll < 0.8:
            left = amount
            for _ in range(rng.randint(1, 3)):
                part = rng.randint(1, max(1, left // 2))
                if await self._refund(pid, part):
                    left -= part
        else:
            parts = [rng.randint(amount * 2 // 5, amount * 3 // 5) for _ in range(3)]
            results = await asyncio.gather(*(self._refund(pid, part, race=True)
                                             for part in parts))
            self.ledger.refund_races.append((pid, amount, list(zip(parts, results, strict=True))))

    async def _capture(self, payment_id: str) -> str:
        status, _ = await self._call("capture", "POST", f"/api/v1/payments/{payment_id}/capture",
                                     {})
        return status

    async def _refund(self, payment_id: str, amount: int, race: bool = False) -> Any:
        rid = self._rid()
        keyed = self._keyed() and not race
        rec = Create("refund", rid, keyed, payment_id, amount=amount)
        if self.rng.random() < 0.5:
            data = await self._create(rec, f"/api/v1/payments/{payment_id}/refunds",
                                      {"amount": amount, "reason": rid})
        else:
            data = await self._create(rec, "/api/v1/refunds",
                                      {"payment_id": payment_id, "amount": amount, "reason": rid})
        if race:
            return rec.outcomes[-1] if rec.outcomes else "none"
        return data


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _envelope(data: Any) -> bool:
    err = data.get("error") if isinstance(data, dict) else None
    return isinstance(err, dict) and isinstance(err.get("code"), str) \
        and isinstance(err.get("description"), str)
