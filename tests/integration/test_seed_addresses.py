"""Addresses of the seed project that existing bookmarks and the seed's checkers still use."""

from __future__ import annotations

from tests.support import Client


def test_the_seeds_dashboard_address_redirects_to_the_webhooks_page(client: Client) -> None:
    seed = client.get("/dashboard.html", auth=False, allow_redirects=False)
    assert seed.status_code in (301, 302), seed.text
    assert seed.headers["Location"] == "/dashboard/webhooks"
    # Followed by an anonymous visitor: the webhooks page asks for a sign-in first.
    landed = client.get("/dashboard.html", auth=False)
    assert landed.status_code == 200
    assert landed.url.endswith("/login?next=/dashboard/webhooks")
