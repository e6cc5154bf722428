"""The smaller findings of the second defect hunt, one test (or a few) each: a NUL byte in /v1
credentials, unknown API keys that cost a query every time, a VPA with a trailing newline, HSTS
and Secure cookies behind a TLS proxy, the operations endpoints open to anyone, and the
merchant's own payments counted against the public checkout's attempt cap."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from paystate.config import Settings
from tests.support import Client, ThreadGateway, make_settings


def basic(user: bytes, password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()}


@pytest.fixture
def own_gateway(request: pytest.FixtureRequest, base_settings: Settings) -> Iterator[ThreadGateway]:
    """A gateway with the settings ``@pytest.mark.parametrize("own_gateway", [{...}],
    indirect=True)`` gives."""
    gw = ThreadGateway(make_settings(**request.param)).start()
    try:
        yield gw
    finally:
        gw.stop()


# -- 1. NUL in the Basic-auth user on /v1 -------------------------------------------------


@pytest.mark.parametrize("user,password", [(b"key_test\x00abc123", b"secret_test_xyz789"),
                                           (b"key_test_abc123", b"secret\x00"),
                                           (b"\x00", b"\x00")])
def test_nul_in_razorpay_basic_credentials_is_a_clean_401(client: Client, user: bytes,
                                                          password: bytes) -> None:
    r = client.get("/v1/orders", auth=False, headers=basic(user, password))
    assert r.status_code == 401, r.text
    error = r.json()["error"]
    assert error["code"] == "BAD_REQUEST_ERROR"
    assert error["description"] == "Authentication failed"
