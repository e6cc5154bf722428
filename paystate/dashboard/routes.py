"""The dashboard's URLs, mounted by ``paystate.http.app.make_app`` beside the API."""

from __future__ import annotations

from . import data, endpoints, lists, pages, payments

KIND = r"(payment|refund|delivery)"
ID = r"([A-Za-z0-9_\-]{1,64})"


def dashboard_routes() -> list[tuple[str, type]]:
    return [
        (r"/login", pages.LoginHandler),
        (r"/logout", pages.LogoutHandler),
        (r"/dashboard", pages.HomeHandler),
        (r"/dashboard/keys/roll", pages.KeyRollHandler),
        (r"/dashboard\.html", pages.SeedAddressHandler),
        (r"/dashboard/transactions", pages.TransactionsHandler),
        (r"/dashboard/(transactions|refunds)\.csv", lists.ExportHandler),
        (rf"/dashboard/payments/{ID}", payments.PaymentPageHandler),
        (rf"/dashboard/payments/{ID}/capture", payments.CaptureFormHandler),
        (rf"/dashboard/payments/{ID}/refunds", payments.RefundFormHandler),
        (r"/dashboard/orders", lists.OrdersHandler),
        (rf"/dashboard/orders/{ID}", lists.OrderHandler),
        (r"/dashboard/refunds", lists.RefundsHandler),
        (r"/dashboard/webhooks", pages.WebhooksHandler),
        (r"/dashboard/webhooks/secret", pages.WebhookSecretHandler),
        (r"/dashboard/webhooks/test", pages.WebhookTestHandler),
        (rf"/dashboard/webhooks/{ID}/retry", pages.WebhookRetryHandler),
        (r"/dashboard/webhooks/endpoints", endpoints.EndpointCreateHandler),
        (rf"/dashboard/webhooks/endpoints/{ID}", endpoints.EndpointUpdateHandler),
        (rf"/dashboard/webhooks/endpoints/{ID}/status", endpoints.EndpointStatusHandler),
        (rf"/dashboard/webhooks/endpoints/{ID}/delete", endpoints.EndpointDeleteHandler),
        (rf"/dashboard/webhooks/endpoints/{ID}/roll", endpoints.EndpointRollHandler),
        (rf"/dashboard/webhooks/endpoints/{ID}/test", endpoints.EndpointTestHandler),
        (rf"/dashboard/webhooks/endpoints/{ID}/recover", endpoints.EndpointRecoverHandler),
        (r"/dashboard/settings", pages.SettingsHandler),
        (r"/dashboard/docs", pages.DocsHandler),
        (r"/dashboard/states", pages.StatesHandler),
        (rf"/dashboard/states/{KIND}/{ID}", pages.StateObjectHandler),
        (r"/dashboard/api/states", data.CountsHandler),
        (rf"/dashboard/api/timeline/{KIND}/{ID}", data.TimelineHandler),
        (r"/dashboard/events", data.EventsHandler),
        (r"/dashboard/static/(.+)", data.AssetHandler),
    ]
