"""``/openapi.json`` matches the running API: the same routes and methods as the Tornado app, a
valid OpenAPI document, and a bounded, deterministic fuzz run (schemathesis) in which every
response is documented, conforms to its schema, is never a 5xx, and every 4xx is the
contract's error envelope."""

from __future__ import annotations

import base64
import inspect
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tornado.web import RequestHandler

from paystate.config import Settings
from paystate.engine.operators import DEMO_OPERATOR
from paystate.engine.webhooks.urls import parse_webhook_url
from paystate.http import razorpay
from paystate.http.admin.merchants import admin_routes
from paystate.http.app import api_routes
from paystate.http.openapi import openapi_document
from paystate.http.openapi_schemas import ERROR_CODES, SCHEMAS
from paystate.http.razorpay import openapi as razorpay_openapi
from paystate.http.razorpay.base import UnsupportedHandler
from paystate.machines.errors import ValidationError
from paystate.testing import WebhookReceiver
from tests.support import Client, ThreadGateway, make_settings, wait_until
from tests.webhooks_support import new_merchant

METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
# A non-nested regex group in a route pattern, e.g. ``([A-Za-z0-9_\-]{1,64})``.
GROUP = re.compile(r"\((?:[^()\\]|\\.)*\)")
# Enough to explore each operation's inputs, small enough for ~30 s in all on 2 cores.
EXAMPLES_PER_OPERATION = 20


# -- the route table against the document ----------------------------------------------------

def path_template(pattern: str, names: list[str]) -> str:
    """``/a/([^/]+)/b`` with names ``["x"]`` -> ``/a/{x}/b``; escaped dots unescaped."""
    remaining = iter(names)
    return GROUP.sub(lambda _: "{" + next(remaining) + "}", pattern).replace("\\.", ".")


def served_operations() -> set[tuple[str, str]]:
    """(path template, method) for every method a handler in ``api_routes()`` and the
    Razorpay dialect's ``routes()`` defines (but the dialect's catch-all for unsupported
    paths); each regex group becomes ``{name}``, named by the handler method's argument."""
    served = set()
    for pattern, handler in api_routes() + razorpay.routes() + admin_routes():
        if handler is UnsupportedHandler:
            continue
        methods = [m for m in METHODS if getattr(handler, m) is not getattr(RequestHandler, m)]
        assert methods, f"{handler.__name__} serves no method"
        for method in methods:
            names = list(inspect.signature(getattr(handler, method)).parameters)[1:]
            path = path_template(pattern, names)
            assert not re.search(r"[\\()\[\]*+?^$|]", path), f"unconverted pattern {pattern}"
            served.add((path, method))
    return served


def documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items()
            for method in item if method in METHODS}


def test_document_covers_exactly_the_served_routes() -> None:
    served, documented = served_operations(), documented_operations(openapi_document())
    assert not served - documented, f"served but not documented: {sorted(served - documented)}"
    assert not documented - served, f"documented but not served: {sorted(documented - served)}"


def test_path_parameters_are_declared() -> None:
    doc = openapi_document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), f"{method} {path}"


def test_document_is_valid_openapi() -> None:
    doc = openapi_document("http://127.0.0.1:8000")
    validate(doc)
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": "http://127.0.0.1:8000"}]


# -- the live gateway and the fuzz helpers --------------------------------------------------

@dataclass
class FuzzTarget:
    gateway: ThreadGateway
    auth: dict[str, str]
    receiver: WebhookReceiver
    known: dict[str, list[str]]  # parameter or body field name -> ids that exist
    session: requests.Session
    client: Client
    keys: Iterator[int] = field(default_factory=itertools.count)  # fresh Idempotency-Keys


def existing_objects(client: Client) -> dict[str, list[str]]:
    """One of each object, so that generated requests also reach past the 404: an open order,
    a paid order with a successful payment, a refund of it, and its webhook deliveries."""
    open_order = client.order(20000)
    paid_order = client.order(30000)
    payment = client.wait_payment(client.upi_payment(paid_order["id"])["id"])
    assert payment["status"] == "success", payment
    refund = client.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": 100})
    assert refund.status_code == 201, refund.text
    deliveries = wait_until(lambda: client.get("/api/v1/webhooks").json()["data"], 15, 0.1,
                            "webhook deliveries")
    orders = [open_order["id"], paid_order["id"]]
    return {"order_id": orders, "payment_id": [payment["id"]],
            "refund_id": [refund.json()["id"]], "delivery_id": [deliveries[0]["id"]]}


@pytest.fixture(scope="module")
def fuzz_target(base_settings: Settings) -> Iterator[FuzzTarget]:
    # A merchant of its own: the fuzz run changes its webhook URL and secret, which must not
    # leak into other tests through the seeded merchant. Its deliveries go to a loopback
    # receiver, and generated URLs are swapped for that receiver's (see ``loopback_url``).
    receiver = WebhookReceiver().start()
    gateway = ThreadGateway(make_settings(webhook_allow_private=True)).start()
    try:
        _, client = new_merchant(gateway.settings, gateway.url, webhook_url=receiver.url)
        known = existing_objects(client)
        session = requests.Session()
        yield FuzzTarget(gateway, client.auth, receiver, known, session, client)
        session.close()
    finally:
        gateway.stop()
        receiver.stop()


SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATIONS: dict[str, Any] = {op.label: op for op in (
    cast(Any, result).ok() for result in SCHEMA.get_all_operations())}
# Strings that broke, or could break, storage and rendering: NUL (which PostgreSQL cannot
# store), direction overrides, astral characters, SQL, paths, a long value. Unpaired surrogates
# cannot pass through schemathesis (it encodes bodies as UTF-8): see test_unstorable_json.
HOSTILE_TEXT = ("\x00", "a\x00b", "\u202e", "\U0001f642", "' OR '1'='1", "../../etc/passwd",
                "%00", "A" * 5000)
FRESH = "(a new order)"
DOCUMENTED_FIELDS = {name for schema in [*SCHEMAS.values(), *razorpay_openapi.SCHEMAS.values()]
                     for name in schema.get("properties", {})}
RAZORPAY_ERROR_KEYS = {"code", "description", "source", "step", "reason", "metadata", "field"}


def loopback_url(url: Any, receiver: WebhookReceiver) -> Any:
    """A generated webhook URL that the gateway would accept becomes the loopback receiver's:
    the fuzz run must never make the gateway POST to an arbitrary host. URLs it refuses on
    syntax alone stay, as negative input."""
    if not isinstance(url, str):
        return url
    try:
        parse_webhook_url(url)
    except ValidationError:
        return url
    return receiver.url


def string_slots(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Where ``value`` (a JSON body) holds strings, as key paths, under documented fields
    only: the handlers ignore the rest."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [slot for key, item in value.items() if path or key in DOCUMENTED_FIELDS
                for slot in string_slots(item, (*path, key))]
    return []


def replaced(value: dict[str, Any], path: tuple[str, ...], new: Any) -> dict[str, Any]:
    head, *rest = path
    return {**value, head: replaced(value[head], tuple(rest), new) if rest else new}


def aim(case: Any, target: FuzzTarget, choose: Callable[[str, list[str]], str | None]) -> None:
    """Point ids in the path and body at objects that exist, and Idempotency-Keys at fresh
    keys, where ``choose(name, options)`` says so. A random id is a 404 and a reused key a
    422 before any other check runs: only a real id and a new key let generated bodies reach
    the validation behind."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 0 < len(key) < 200:
        chosen = choose("Idempotency-Key", [f"{key}.{next(target.keys)}"])
        if chosen is not None:
            case.headers = {**case.headers, "Idempotency-Key": chosen}
    for name in list(case.path_parameters or {}):
        chosen = choose(name, target.known[name]) if name in target.known else None
        if chosen is not None:
            case.path_parameters = {**case.path_parameters, name: chosen}
    if isinstance(case.body, dict):
        for name in ("order_id", "payment_id"):
            if isinstance(case.body.get(name), str):
                chosen = choose(name, [*target.known[name], *([FRESH] if name == "order_id"
                                                               else [])])
                if chosen == FRESH:  # an order nothing has paid yet: a valid body is a 201
                    chosen = target.client.order(10000)["id"]
                if chosen is not None:
                    case.body = {**case.body, name: chosen}


@st.composite
def fuzz_cases(draw: st.DrawFn, operation: Any, target: FuzzTarget) -> Any:
    """A positive or negative case from the document; half of its ids then name objects that
    exist, and one of its strings may be swapped for a hostile one."""
    modes = [GenerationMode.POSITIVE]
    if operation.definition.raw.get("parameters") or len(operation.body):
        modes.append(GenerationMode.NEGATIVE)  # nothing to negate on a bare GET
    case = draw(st.one_of([operation.as_strategy(mode) for mode in modes]))
    if isinstance(case.body, dict):
        slot = draw(st.sampled_from([None, *string_slots(case.body)]))
        if slot is not None:
            case.body = replaced(case.body, slot, draw(st.sampled_from(HOSTILE_TEXT)))
    aim(case, target, lambda _, ids: draw(st.sampled_from(ids)) if draw(st.booleans()) else None)
    return case


def coverage_choice(index: int) -> Callable[[str, list[str]], str | None]:
    """``aim``'s choice for the index-th coverage case, without randomness: every other case
    aims its ids (at the last option: a new order where there is one), and three in four use
    a fresh Idempotency-Key, so the fourth replays or reuses the generated one."""
    def choose(name: str, options: list[str]) -> str | None:
        aimed = index % 4 != 3 if name == "Idempotency-Key" else index % 2 == 0
        return options[-1] if aimed else None
    return choose


def coverage_cases(operation: Any) -> list[Any]:
    """schemathesis' coverage phase: deterministic boundary values, wrong types, missing and
    extra fields, and methods the path does not serve."""
    config = SCHEMA.config.generation_for(operation=operation, phase="coverage")
    return list(SCHEMA.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                           generation_config=config))


def send(case: Any, target: FuzzTarget) -> Any:
    """Every request of the run goes through here, so here is where a webhook URL is made
    safe (``loopback_url``)."""
    if case.path == "/api/v1/merchant/webhook" and isinstance(case.body, dict):
        case.body = {**case.body, "url": loopback_url(case.body.get("url"), target.receiver)}
    headers = target.auth if case.operation.definition.raw["security"] else {}
    if case.path.startswith("/v1/"):
        headers = basic_auth(target.auth)
    if case.path.startswith("/admin/"):
        headers = {"Authorization": f"Bearer {DEMO_OPERATOR['token']}"}
    response = case.call(base_url=target.gateway.url, session=target.session, headers=headers,
                         timeout=30)
    if (case.path == "/api/v1/merchant/keys/roll" and response.status_code == 200
            and response.json()["api_key"] == target.auth["X-Api-Key"]):
        # The run rolled its own test key (perhaps with no overlap): go on with the new secret.
        target.auth["X-Api-Secret"] = response.json()["api_secret"]
    return response


def basic_auth(auth: dict[str, str]) -> dict[str, str]:
    """The Razorpay dialect's credentials: the same key and secret, as HTTP Basic."""
    pair = f"{auth['X-Api-Key']}:{auth['X-Api-Secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def assert_contract(case: Any, response: Any) -> None:
    """Never a 5xx; every 4xx in the envelope; an undocumented method is a 405; otherwise the
    status, content type, headers and body are the ones the document gives."""
    where = f"{case.method} {case.formatted_path} {case.body!r:.300}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text:.500}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, (where, body)
        if case.path.startswith("/v1/"):  # the Razorpay dialect's envelope
            assert set(body["error"]) == RAZORPAY_ERROR_KEYS, (where, body)
            assert body["error"]["code"] == "BAD_REQUEST_ERROR", (where, body)
        else:
            assert {"code", "description", "param", "request_id"} <= set(body["error"]) <= {
                "code", "description", "param", "request_id", "detail", "refundable"}, (
                where, body)
            assert body["error"]["code"] in ERROR_CODES, (where, body)
            assert [body["error"]["request_id"]] == response.headers["x-request-id"], where
        assert isinstance(body["error"]["description"], str), (where, body)
    if case.method.lower() != case.operation.method.lower():
        assert response.status_code == 405, where
        return
    case.validate_response(response, checks=[
        status_code_conformance, content_type_conformance, response_headers_conformance,
        response_schema_conformance])


# -- against the live gateway ------------------------------------------------------------

def test_served_document_is_the_built_one(fuzz_target: FuzzTarget) -> None:
    r = fuzz_target.client.get("/openapi.json", auth=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == openapi_document()


# What the fuzz run found.
UNSTORABLE = [("/api/v1/orders", '{"amount": 1000, "receipt": "a\\u0000b"}'),
              ("/api/v1/orders", '{"amount": 1000, "notes": {"k\\u0000": "v"}}'),
              ("/api/v1/orders", '{"amount": 1000, "receipt": "\\ud800"}'),
              ("/api/v1/orders", '{"amount": 1000, "notes": {"k": 1e400}}'),
              ("/api/v1/payments", '{"order_id": "order_\\u0000", "method": "upi", "vpa": "a@b"}'),
              ("/api/v1/payments/public", '{"order_id": "o\\udfff", "method": "upi", "vpa": "a@b"}'),
              ("/api/v1/refunds", '{"payment_id": "pay_\\u0000", "amount": 100}')]


@pytest.mark.parametrize("path,raw", UNSTORABLE)
def test_unstorable_json_is_a_400(fuzz_target: FuzzTarget, path: str, raw: str) -> None:
    """NUL and unpaired surrogates (JSON escapes PostgreSQL cannot store, nor psycopg encode)
    and numbers beyond float range were 500s; they are refused in the envelope."""
    r = fuzz_target.client.request("POST", path, data=raw.encode(),
                                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST_ERROR"


RAZORPAY_UNSTORABLE = [("/v1/orders", '{"amount": 1000, "receipt": "a\\u0000b"}'),
                       ("/v1/orders", '{"amount": 1000, "notes": {"k": "\\udfff"}}'),
                       ("/v1/refunds", '{"payment_id": "pay_\\u0000", "amount": 100}'),
                       ("/v1/payments/create/upi", '{"order_id": "o\\ud800", "amount": 1}')]


@pytest.mark.parametrize("path,raw", RAZORPAY_UNSTORABLE)
def test_unstorable_json_is_a_400_on_the_razorpay_dialect(fuzz_target: FuzzTarget, path: str,
                                                          raw: str) -> None:
    r = fuzz_target.client.request("POST", path, data=raw.encode(), auth=False,
                                   headers={"Content-Type": "application/json",
                                            **basic_auth(fuzz_target.auth)})
    assert r.status_code == 400, r.text
    assert set(r.json()["error"]) == RAZORPAY_ERROR_KEYS


def test_unstorable_webhook_url_is_a_400(fuzz_target: FuzzTarget) -> None:
    r = fuzz_target.client.put("/api/v1/merchant/webhook", {"url": "http://a\x00b/"})
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzz_operation(fuzz_target: FuzzTarget, label: str) -> None:
    operation = OPERATIONS[label]

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
              deadline=None, phases=[Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(case=fuzz_cases(operation, fuzz_target))
    def run(case: Any) -> None:
        assert_contract(case, send(case, fuzz_target))

    run()


# The coverage and hostile-text passes run in make test; test-fast keeps the fuzz pass, so that
# the tier run on every change stays under a minute and a half.
@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_coverage_operation(fuzz_target: FuzzTarget, label: str) -> None:
    for index, case in enumerate(coverage_cases(OPERATIONS[label])):
        aim(case, fuzz_target, coverage_choice(index))
        assert_contract(case, send(case, fuzz_target))


BODY_OPERATIONS = sorted(label for label, op in OPERATIONS.items()
                         if "requestBody" in op.definition.raw)


def documented_examples(operation: Any) -> list[dict[str, Any]]:
    content = operation.definition.raw["requestBody"]["content"]["application/json"]
    return [example["value"] for example in content["examples"].values()]


@pytest.mark.slow
@pytest.mark.parametrize("label", BODY_OPERATIONS)
def test_hostile_text_operation(fuzz_target: FuzzTarget, label: str) -> None:
    """Deterministic where the fuzz run is lucky: every string of every documented example,
    in turn, replaced by each hostile string, with real ids and a fresh key around it."""
    operation = OPERATIONS[label]
    for example in documented_examples(operation):
        for slot in string_slots(example):
            for text in HOSTILE_TEXT:
                case = operation.Case(
                    body=example, media_type="application/json",
                    headers={"Idempotency-Key": "hostile"},
                    path_parameters={name: "unknown" for name in re.findall(r"{(\w+)}",
                                                                            operation.path)})
                aim(case, fuzz_target, lambda _, options: options[-1])
                case.body = replaced(cast(dict[str, Any], case.body), slot, text)
                assert_contract(case, send(case, fuzz_target))


def test_examples_match_their_schemas() -> None:
    doc = openapi_document()
    for label in BODY_OPERATIONS:
        body = OPERATIONS[label].definition.raw["requestBody"]["content"]["application/json"]
        validator = Draft202012Validator({**body["schema"], "components": doc["components"]})
        for example in documented_examples(OPERATIONS[label]):
            validator.validate(example)
