"""No input produces a 5xx (hypothesis): raw bodies and headers on the creating POSTs.

schemathesis (test_openapi.py) fuzzes what the OpenAPI document describes; this throws what it
does not: arbitrary JSON of any shape in every field, bodies that are not JSON at all, odd
Content-Types and Idempotency-Keys, ids that exist and ids that do not. Every answer must be
below 500, and every refusal the contract's ``{"error": {"code", "description"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paystate.config import Settings
from tests.support import AUTH, Client, ThreadGateway, make_settings

EXAMPLES = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture(scope="module")
def world(base_settings: Settings) -> Iterator[dict[str, Any]]:
    """One gateway for the module, with an order, a successful payment and its order."""
    gw = ThreadGateway(make_settings(test_processing_delay_ms=50)).start()
    try:
        client = gw.client
        paid = client.order()
        payment = client.wait_payment(client.upi_payment(paid["id"])["id"])
        yield {"client": client, "url": gw.url, "order_id": client.order()["id"],
               "paid_order_id": paid["id"], "payment_id": payment["id"],
               "session": requests.Session()}
    finally:
        gw.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                               max_size=4),
    max_leaves=12)
# requests itself refuses header values with leading or trailing whitespace.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF),
                      max_size=300).map(str.strip)


def field_bodies(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    """Bodies shaped like the real request (each field either plausible or anything at all),
    arbitrary JSON documents, and bytes that are not JSON."""
    shaped = st.fixed_dictionaries({}, optional={
        name: st.one_of(plausible, json_values) for name, plausible in fields.items()})
    return st.one_of(
        shaped.map(lambda d: json.dumps(d).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    )


headers = st.fixed_dictionaries({}, optional={
    "Idempotency-Key": header_text,
    "Content-Type": st.sampled_from(["application/json", "text/plain", "",
                                     "application/x-www-form-urlencoded",
                                     "application/json; charset=latin-1"]),
})


def post(world: dict[str, Any], path: str, body: bytes, extra: dict[str, str]) -> None:
    response = world["session"].post(world["url"] + path, data=body,
                                     headers={**AUTH, **extra}, timeout=30)
    assert response.status_code < 500, (path, body[:200], extra, response.text[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["description"], str)


def ids(world: dict[str, Any], *names: str) -> st.SearchStrategy[Any]:
    return st.sampled_from([world[n] for n in names] + ["order_nope", "pay_nope", ""])


@EXAMPLES
@given(data=st.data())
def test_order_creation_never_answers_5xx(world: dict[str, Any], data: st.DataObject) -> None:
    body = data.draw(field_bodies({
        "amount": st.integers(-10, 10**12), "currency": st.sampled_from(["INR", "USD", ""]),
        "receipt": st.text(max_size=50), "notes": st.dictionaries(st.text(max_size=20),
                                                                  json_values, max_size=16)}))
    post(world, "/api/v1/orders", body, data.draw(headers))


@EXAMPLES
@given(data=st.data())
def test_payment_creation_never_answers_5xx(world: dict[str, Any], data: st.DataObject) -> None:
    card = st.fixed_dictionaries({}, optional={
        "number": st.sampled_from(["4111111111111111", "4111 1111 1111 1112", "5", ""]),
        "expiry_month": st.integers(-1, 14), "expiry_year": st.integers(0, 3000),
        "cvv": st.text(max_size=5), "holder_name": st.text(max_size=40)})
    body = data.draw(field_bodies({
        "order_id": ids(world, "order_id", "paid_order_id"),
        "method": st.sampled_from(["upi", "card", "netbanking", ""]),
        "vpa": st.sampled_from(["a@b", "bad", "x@y@z", ""]), "card": card}))
    path = data.draw(st.sampled_from(["/api/v1/payments", "/api/v1/payments/public"]))
    post(world, path, body, data.draw(headers))


@EXAMPLES
@given(data=st.data())
def test_refund_creation_never_answers_5xx(world: dict[str, Any], data: st.DataObject) -> None:
    fields = {"amount": st.integers(-10, 10**12), "reason": st.text(max_size=300)}
    if data.draw(st.booleans()):
        fields["payment_id"] = ids(world, "payment_id")
        path = "/api/v1/refunds"
    else:
        path = f"/api/v1/payments/{data.draw(ids(world, 'payment_id'))}/refunds"
    post(world, path, data.draw(field_bodies(fields)), data.draw(headers))


def test_the_payment_is_never_refunded_beyond_its_amount(world: dict[str, Any]) -> None:
    """Whatever the fuzzing above granted, the payment's counters still add up."""
    client: Client = world["client"]
    payment = client.get(f"/api/v1/payments/{world['payment_id']}").json()
    refunds = client.get(f"/api/v1/payments/{world['payment_id']}/refunds").json()
    assert sum(r["amount"] for r in refunds if r["status"] != "failed") <= payment["amount"]
