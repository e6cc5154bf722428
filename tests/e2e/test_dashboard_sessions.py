"""Dashboard sessions and forgery, in real headless Chromium where a browser matters.

The findings of the second defect hunt, each reproduced and shown refused:
- a session cookie replayed after logout (or after its merchant's sessions were ended) is no
  session;
- a page on another port of the same host (same site, so SameSite=Lax does not help) tosses an
  ``_xsrf`` cookie and auto-posts a dashboard form: refused, nothing changes; so are POSTs that
  say they come from another origin, even with a valid token, and a sign-in posted from one;
- with the shared (Redis) limit unreachable, wrong passwords are still throttled.
"""

# test_dashboard.py's fixtures (a module-scoped gateway and Chromium, a page per test) are
# imported, so made once more for this module; pyflakes takes their uses for redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests

from paystate.config import Settings
from paystate.engine.rate_limits import SharedLimits
from tests.e2e.test_dashboard import (  # noqa: F401 (fixtures)
    CHROMIUM,
    PASSWORD,
    browser,
    dash_settings,
    gw,
    login,
    new_operator,
    page,
)
from tests.e2e.test_dashboard_live import sign_in
from tests.support import ThreadGateway, free_port, loopback_site, make_settings
from tests.webhooks_support import rows

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")

SESSION = "paystate_session"


def webhook_secret(settings: Settings, merchant_id: str) -> str:
    found = rows(settings, "SELECT webhook_secret FROM merchants WHERE id = %s", merchant_id)
    return str(found[0]["webhook_secret"])


def page_token(html: str) -> str:
    found = re.search(r'name="xsrf-token" content="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def signed_in(gw: ThreadGateway, email: str) -> requests.Session:
    http = requests.Session()
    r = sign_in(gw.url, email, http=http)
    assert r.status_code == 302, r.text
    return http


# -- finding 3: logout ends the session --------------------------------------------------------

def test_a_session_cookie_replayed_after_logout_is_refused(page: Any, gw: ThreadGateway) -> None:
    op = new_operator(gw.settings, gw.url)
    login(page, op.email)
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION)
    page.click("[data-test-id=logout-button]")
    page.wait_for_url("**/login?logged_out=1")

    # The attacker (or a shared computer's next user) puts the old cookie back.
    page.context.add_cookies([cookie])
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")
    assert page.locator("[data-test-id=api-secret]").count() == 0
    assert page.request.get("/dashboard/api/states").status == 401


def test_ending_a_merchants_sessions_signs_out_every_browser(browser: Any,
                                                             gw: ThreadGateway) -> None:
    """``end_sessions(merchant_id)``, which a password change and a suspension call."""
    op = new_operator(gw.settings, gw.url)
    other = new_operator(gw.settings, gw.url)
    contexts = [browser.new_context(base_url=gw.url) for _ in range(3)]
    try:
        pages = [c.new_page() for c in contexts]
        for pg, email in zip(pages, (op.email, op.email, other.email), strict=True):
            login(pg, email)
        assert gw.runtime is not None and gw.runtime.dashboard is not None
        gw.call(gw.runtime.dashboard.end_sessions(op.merchant_id))
        for pg in pages[:2]:
            pg.goto("/dashboard")
            pg.wait_for_url("**/login?next=/dashboard")
        # Another merchant's session is untouched.
        pages[2].goto("/dashboard")
        pages[2].wait_for_url("**/dashboard")
    finally:
        for c in contexts:
            c.close()


# -- finding 4: XSRF by cookie tossing --------------------------------------------------------

class _Attacker(BaseHTTPRequestHandler):
    """A page on another port of 127.0.0.1: tosses ``_xsrf`` and auto-posts the form."""

    target = ""

    def do_GET(self) -> None:
        body = (f'<form id="f" method="post" action="{self.target}/dashboard/webhooks/secret">'
                '<input type="hidden" name="_xsrf" value="attackertoken"></form>'
                '<script>document.cookie = "_xsrf=attackertoken; path=/";'
                ' document.getElementById("f").submit()</script>').encode()
        self.send_response(200)
        # Cookies do not tell ports apart: this one goes to the gateway's port too.
        self.send_header("Set-Cookie", "_xsrf=attackertoken; Path=/")
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def attacker(gw: ThreadGateway) -> Iterator[str]:
    with loopback_site(type("Attacker", (_Attacker,), {"target": gw.url}), "attacker") as url:
        yield url


def test_a_tossed_xsrf_cookie_from_another_port_is_refused(page: Any, gw: ThreadGateway,
                                                          attacker: str) -> None:
    op = new_operator(gw.settings, gw.url)
    login(page, op.email)
    before = webhook_secret(gw.settings, op.merchant_id)

    def the_forged_post(r: Any) -> bool:
        return r.url.endswith("/dashboard/webhooks/secret") and r.request.method == "POST"

    with page.expect_response(the_forged_post) as answer:
        page.goto(attacker + "/prize")
    forged = answer.value
    # The browser did send the tossed cookie and the session along: only the server refuses.
    sent = forged.request.all_headers().get("cookie", "")
    assert "_xsrf=attackertoken" in sent and SESSION in sent
    assert forged.status == 403
    assert webhook_secret(gw.settings, op.merchant_id) == before


def test_a_tossed_xsrf_pair_is_refused_without_origin_headers(gw: ThreadGateway) -> None:
    """A client that sends neither Origin nor Sec-Fetch-Site relies on the token alone, and a
    token the attacker chose is not one."""
    op = new_operator(gw.settings, gw.url)
    http = signed_in(gw, op.email)
    before = webhook_secret(gw.settings, op.merchant_id)
    http.cookies.set("_xsrf", "attackertoken")
    for path in ("/dashboard/webhooks/secret", "/dashboard/webhooks", "/dashboard/webhooks/test",
                 "/logout"):
        r = http.post(gw.url + path, data={"_xsrf": "attackertoken",
                                           "webhook_url": "https://evil.example/"},
                      allow_redirects=False, timeout=10)
        assert r.status_code == 403, (path, r.status_code)
    assert webhook_secret(gw.settings, op.merchant_id) == before
    assert http.get(gw.url + "/dashboard", allow_redirects=False, timeout=10).status_code == 200


def test_a_post_from_another_origin_is_refused_even_with_the_token(gw: ThreadGateway) -> None:
    op = new_operator(gw.settings, gw.url)
    http = signed_in(gw, op.email)
    token = page_token(http.get(gw.url + "/dashboard/webhooks", timeout=10).text)
    before = webhook_secret(gw.settings, op.merchant_id)
    other = f"http://127.0.0.1:{gw.port + 1}"
    for headers in ({"Origin": other}, {"Origin": "null"}, {"Sec-Fetch-Site": "same-site"},
                    {"Sec-Fetch-Site": "cross-site", "Origin": gw.url}):
        r = http.post(gw.url + "/dashboard/webhooks/secret", data={"_xsrf": token},
                      headers=headers, allow_redirects=False, timeout=10)
        assert r.status_code == 403, (headers, r.status_code)
    assert webhook_secret(gw.settings, op.merchant_id) == before
    # The same token from the dashboard's own origin works.
    r = http.post(gw.url + "/dashboard/webhooks/secret", data={"_xsrf": token},
                  headers={"Origin": gw.url, "Sec-Fetch-Site": "same-origin"},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    assert webhook_secret(gw.settings, op.merchant_id) != before


def test_a_sign_in_posted_from_another_origin_is_refused(gw: ThreadGateway) -> None:
    """Login CSRF: another page signing the victim's browser in to the attacker's account."""
    op = new_operator(gw.settings, gw.url)
    http = requests.Session()
    token = page_token(http.get(gw.url + "/login", timeout=10).text)
    r = http.post(gw.url + "/login", data={"_xsrf": token, "email": op.email,
                                           "password": PASSWORD},
                  headers={"Origin": f"http://127.0.0.1:{gw.port + 1}",
                           "Sec-Fetch-Site": "same-site"},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 403
    assert SESSION not in http.cookies


def test_over_https_the_session_cookie_is_host_prefixed(base_settings: Settings) -> None:
    """Behind a TLS-ending proxy (X-Forwarded-Proto trusted): ``__Host-`` cookies, which a
    page on another host or port cannot set over plain http."""
    gateway = ThreadGateway(make_settings(trust_proxy_headers=True)).start()
    try:
        op = new_operator(gateway.settings, gateway.url)
        tls = {"X-Forwarded-Proto": "https"}
        origin = "https://" + gateway.url.removeprefix("http://")
        first = requests.get(gateway.url + "/login", headers=tls, timeout=10)
        cookies = {c.name: c.value for c in first.cookies}
        r = requests.post(gateway.url + "/login", headers={**tls, "Origin": origin},
                          cookies=cookies, allow_redirects=False, timeout=10,
                          data={"_xsrf": page_token(first.text), "email": op.email,
                                "password": PASSWORD})
        assert r.status_code == 302, r.text
        set_cookie = r.headers["Set-Cookie"]
        assert re.search(r"__Host-paystate_session=[^;]+", set_cookie), set_cookie
        attrs = [a.strip().lower() for a in set_cookie.split(";")]
        assert "secure" in attrs and "path=/" in attrs and "httponly" in attrs
        assert not any(a.startswith("domain") for a in attrs)
        value = re.search(r"__Host-paystate_session=([^;]+)", set_cookie)
        assert value is not None
        home = requests.get(gateway.url + "/dashboard", headers=tls, allow_redirects=False,
                            cookies={"__Host-paystate_session": value.group(1)}, timeout=10)
        assert home.status_code == 200
        # The unprefixed name is not read over https.
        home = requests.get(gateway.url + "/dashboard", headers=tls, allow_redirects=False,
                            cookies={SESSION: value.group(1)}, timeout=10)
        assert home.status_code == 302
    finally:
        gateway.stop()


# -- finding 5: the sign-in limit fails closed ------------------------------------------------

def test_sign_in_is_throttled_with_redis_unreachable(base_settings: Settings) -> None:
    """The shared limit's Redis is a dead port; the process's own count still stops guessing
    after DASHBOARD_LOGIN_RATE_LIMIT, even for the right password."""
    gateway = ThreadGateway(make_settings(dashboard_login_rate_limit="3/minute")).start()
    try:
        assert gateway.runtime is not None and gateway.runtime.engine is not None
        gateway.runtime.engine.shared_limits = SharedLimits(
            f"redis://127.0.0.1:{free_port()}/0", gateway.settings.stream_prefix)
        op = new_operator(gateway.settings, gateway.url)
        for _ in range(3):
            started = time.monotonic()
            assert sign_in(gateway.url, op.email, "wrong").status_code == 401
            assert time.monotonic() - started < 10
        refused = sign_in(gateway.url, op.email, "wrong")
        assert refused.status_code == 429, refused.status_code
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert sign_in(gateway.url, op.email).status_code == 429
    finally:
        gateway.stop()
