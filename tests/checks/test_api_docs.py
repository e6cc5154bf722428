"""docs/api.md keeps up with the code: every route of the native API has a curl example, every
error code and setting is named, and its verification snippets (Python, and Node when it is
installed) accept the signed request shown on the page and refuse a tampered one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tornado.web import RequestHandler

from paystate.engine.secrets_hash import new_webhook_secret
from paystate.http.app import api_routes
from paystate.http.openapi_schemas import ERROR_CODES, WEBHOOK_EVENTS
from paystate.machines.webhook_signing import signed_headers, standard_key
from tests.checks.test_deployment import settings_names
from tests.support import ROOT

DOC = Path(ROOT) / "docs" / "api.md"
README = Path(ROOT) / "README.md"
METHODS = ("get", "post", "put", "patch", "delete")
SEEDED_SECRET = "whsec_test_abc123"


def doc() -> str:
    return DOC.read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", doc(), re.DOTALL)


def section(title: str) -> str:
    """The text from a heading to the next heading."""
    text = doc()
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start:end if end != -1 else len(text)]


def curl_calls() -> set[tuple[str, str]]:
    """(METHOD, path) of every curl example, query strings removed."""
    calls = set()
    for block in blocks("sh"):
        for command in block.replace("\\\n", " ").splitlines():
            if not command.lstrip().startswith("curl "):
                continue
            url = re.search(r'"\$BASE(/[^"?]*)', command)
            assert url, command
            method = re.search(r"-X ([A-Z]+)", command)
            calls.add((method.group(1) if method else "GET", url.group(1)))
    return calls


def routes() -> list[tuple[str, str]]:
    """(METHOD, route regex) for every method a native route's handler defines."""
    found = []
    for pattern, handler in api_routes():
        for method in METHODS:
            if getattr(handler, method) is not getattr(RequestHandler, method):
                found.append((method.upper(), pattern))
    return found


def test_every_route_has_a_curl_example_and_a_heading_line() -> None:
    calls = curl_calls()
    text = doc()
    missing = []
    for method, pattern in routes():
        if not any(m == method and re.fullmatch(pattern, path) for m, path in calls):
            missing.append(f"no curl example for {method} {pattern}")
        named = pattern.replace(r"([A-Za-z0-9_\-]{1,64})", "{id}").replace("\\", "")
        if not re.search(re.escape(f"{method} {named}") + r"(?![\w/{])", text):
            missing.append(f"`{method} {named}` is not named")
    assert not missing, "\n".join(missing)


def test_every_error_code_event_and_setting_is_documented() -> None:
    text = doc()
    assert [c for c in ERROR_CODES if f"`{c}`" not in text] == []
    assert [e for e in WEBHOOK_EVENTS if f"`{e}`" not in text] == []
    readme = README.read_text()
    assert [n for n in sorted(settings_names()) if f"`{n}`" not in readme + text] == []


def shown_request() -> tuple[dict[str, str], bytes]:
    """The signed delivery printed under "The request"."""
    [raw] = re.findall(r"```\n(POST /hook.*?)\n```", section("### The request"), re.DOTALL)
    head, body = raw.split("\n\n", 1)
    headers = {}
    for line in head.splitlines()[1:]:
        name, value = line.split(": ", 1)
        headers[name.lower()] = value
    return headers, body.encode()


def test_the_request_shown_is_signed_as_the_gateway_signs() -> None:
    headers, body = shown_request()
    expected = signed_headers(SEEDED_SECRET, headers["webhook-id"],
                              int(headers["webhook-timestamp"]), body)
    assert {k.lower(): v for k, v in expected.items()} == headers
    assert json.loads(body)["event"] == "payment.success"


def test_the_python_snippet_verifies_the_request_shown() -> None:
    [code] = re.findall(r"```python\n(.*?)```", section("#### Verifying in Python"), re.DOTALL)
    scope: dict[str, Any] = {}
    exec(compile(code, "docs/api.md", "exec"), scope)  # noqa: S102 - the page's own example
    headers, body = shown_request()
    forever = 10**12  # the request shown is old; the time check is tested below
    assert scope["verify_x_webhook_signature"](SEEDED_SECRET, body,
                                               headers["x-webhook-signature"])
    assert scope["verify_standard_webhooks"](SEEDED_SECRET, headers, body, forever)
    assert not scope["verify_standard_webhooks"](SEEDED_SECRET, headers, body)  # too old
    assert not scope["verify_standard_webhooks"](SEEDED_SECRET, headers, body + b" ", forever)
    assert not scope["verify_x_webhook_signature"]("whsec_other", body,
                                                   headers["x-webhook-signature"])
    assert scope["standard_webhooks_key"](SEEDED_SECRET).hex() == "b5eb2d69b735db"


ROLLED_TO = "whsec_pOsOSrSOyNxA8tMkAAHNmv6QeOXJyQFu"


def test_the_python_snippet_verifies_a_delivery_during_a_roll_with_either_secret() -> None:
    [code] = re.findall(r"```python\n(.*?)```", section("#### Verifying in Python"), re.DOTALL)
    scope: dict[str, Any] = {}
    exec(compile(code, "docs/api.md", "exec"), scope)  # noqa: S102 - the page's own example
    [raw] = re.findall(r"```\n(POST /hook HTTP/1.1 \(during a roll\).*?)\n```", doc(),
                       re.DOTALL)
    head, text = raw.split("\n\n", 1)
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in head.splitlines()[1:])}
    body = text.encode()
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SEEDED_SECRET, ROLLED_TO):
        assert scope["verify_standard_webhooks"](secret, headers, body, 10**12)
        assert not scope["verify_standard_webhooks"](secret, headers, body + b" ", 10**12)
    assert scope["verify_x_webhook_signature"](ROLLED_TO, body, headers["x-webhook-signature"])
    expected = signed_headers(ROLLED_TO, headers["webhook-id"], int(headers["webhook-timestamp"]),
                              body, [SEEDED_SECRET])
    assert expected["webhook-signature"] == headers["webhook-signature"]


NODE_CHECK = """
const v = (() => { %s
  return { verifyXWebhookSignature, verifyStandardWebhooks, standardWebhooksKey }; })();
const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
const body = Buffer.from(c.body, "utf8");
console.log(JSON.stringify([
  v.verifyXWebhookSignature(c.secret, body, c.headers["x-webhook-signature"]),
  v.verifyStandardWebhooks(c.secret, c.headers, body, 1e12),
  v.verifyStandardWebhooks(c.secret, c.headers, body),
  v.verifyStandardWebhooks(c.secret, c.headers, Buffer.concat([body, Buffer.from(" ")]), 1e12),
  c.keys.map((s) => v.standardWebhooksKey(s).toString("hex")),
]));
"""


def test_the_node_snippet_verifies_the_request_shown_and_derives_the_same_keys() -> None:
    node = shutil.which("node")
    assert node is not None, "node is required (.ci/run installs nodejs)"
    [code] = re.findall(r"```js\n(.*?)```", section("#### Verifying in Node"), re.DOTALL)
    headers, body = shown_request()
    keys = [SEEDED_SECRET, "whsec_", "whsec_a", "whsec_abcde", "whsec_ab-c_d.e",
            new_webhook_secret(), new_webhook_secret()]
    done = subprocess.run([node, "-e", NODE_CHECK % code], capture_output=True, text=True,
                          timeout=30, check=False,
                          input=json.dumps({"secret": SEEDED_SECRET, "headers": headers,
                                            "body": body.decode(), "keys": keys}))
    assert done.returncode == 0, done.stderr
    hex_ok, std_ok, too_old, tampered, derived = json.loads(done.stdout)
    assert (hex_ok, std_ok, too_old, tampered) == (True, True, False, False)
    assert derived == [standard_key(k).hex() for k in keys]
