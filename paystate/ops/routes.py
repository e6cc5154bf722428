"""The console's URLs, mounted by ``paystate.http.app.make_app`` beside the dashboard."""

from __future__ import annotations

from ..dashboard.data import AssetHandler
from . import pages
from .base import STATIC

ID = r"([A-Za-z0-9_\-]{1,64})"


class OpsAssetHandler(AssetHandler):
    """The console's CSS and JavaScript (the dashboard's stylesheet is shared)."""

    def initialize(self, deps: object) -> None:  # type: ignore[override]
        super(AssetHandler, self).initialize(path=STATIC)


def ops_routes() -> list[tuple[str, type]]:
    merchant = rf"/ops/merchants/{ID}"
    return [
        (r"/ops/login", pages.LoginHandler),
        (r"/ops/logout", pages.LogoutHandler),
        (r"/ops", pages.OverviewHandler),
        (r"/ops/events", pages.OverviewEventsHandler),
        (r"/ops/merchants", pages.MerchantsHandler),
        (merchant, pages.MerchantHandler),
        (merchant + r"/(suspend|reinstate)", pages.MerchantAction),
        (merchant + rf"/endpoints/{ID}/(disable|enable|recover)", pages.EndpointAction),
        (merchant + rf"/deliveries/{ID}/retry", pages.DeliveryRetry),
        (r"/ops/audit", pages.AuditHandler),
        (r"/ops/static/(.+)", OpsAssetHandler),
    ]
