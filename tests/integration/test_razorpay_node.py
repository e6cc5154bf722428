"""The Razorpay dialect driven by the official Node client (``razorpay`` 2.9.x from the npm
registry), unmodified: ``tests/razorpay_node/flow.js`` runs the whole flow and reports it as
JSON. ``make test`` installs the package into ``.paystate/node`` (git-ignored) before the
suite starts (``make node-client``); ``.ci/run`` installs node and npm."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support import AUTH, ROOT, Front

PREFIX = os.path.join(ROOT, ".paystate", "node")
SCRIPT = os.path.join(ROOT, "tests", "razorpay_node", "flow.js")


def installed_package() -> str:
    """``node_modules`` holding the official client that ``make node-client`` installed."""
    modules = os.path.join(PREFIX, "node_modules")
    with open(os.path.join(modules, "razorpay", "package.json")) as f:
        assert json.load(f)["version"].startswith("2.9."), "expected razorpay 2.9.x"
    return modules


def test_node_client_whole_flow(front: Front) -> None:
    env = {**os.environ, "NODE_PATH": installed_package(), "BASE_URL": front.url,
           "KEY_ID": AUTH["X-Api-Key"], "KEY_SECRET": AUTH["X-Api-Secret"]}
    run = subprocess.run(["node", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    r = json.loads(run.stdout)

    order = r["order"]
    assert (order["entity"], order["amount"], order["status"], order["receipt"]) == (
        "order", 50000, "created", "node_1")
    assert r["fetchedOrder"] == order and order["id"] in r["listedIds"]
    payment_id = r["created"]["razorpay_payment_id"]
    assert r["authorized"]["status"] == "authorized" and r["authorized"]["id"] == payment_id
    assert r["orderPayments"]["count"] == 1
    assert r["orderPayments"]["items"][0]["id"] == payment_id
    assert (r["captured"]["status"], r["captured"]["captured"]) == ("captured", True)
    assert (r["refund"]["amount"], r["refund"]["payment_id"]) == (10000, payment_id)
    assert r["processed"]["status"] == "processed"
    assert [x["id"] for x in r["refundsOfPayment"]["items"]] == [r["refund"]["id"]]
    assert r["refund"]["id"] in r["allRefundIds"]
    assert r["viaPayment"]["id"] == r["refund"]["id"]
    assert (r["after"]["amount_refunded"], r["after"]["refund_status"]) == (10000, "partial")

    for name, status, description in [
            ("badAmount", 400, "amount must be at least 100"),
            ("unknownId", 400, "The id provided does not exist"),
            ("wrongCapture", 400, "Capture amount must equal the payment amount"),
            ("badAuth", 401, "Authentication failed")]:
        refusal = r[name]
        assert refusal["statusCode"] == status, (name, refusal)
        assert refusal["error"]["code"] == "BAD_REQUEST_ERROR", (name, refusal)
        assert refusal["error"]["description"] == description, (name, refusal)
