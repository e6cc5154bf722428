"""``make_app(deps)``: the one place that wires URLs to handlers."""

from __future__ import annotations

from typing import Any

from tornado.web import Application

from ..dashboard.routes import dashboard_routes
from ..ops.routes import ops_routes
from . import razorpay
from .admin.merchants import admin_routes
from .base import Deps, NotFoundHandler
from .handlers import merchant, ops, orders, payments, refunds, webhook_endpoints, webhooks
from .handlers.checkout import checkout_routes
from .handlers.docs import OpenApiHandler
from .request_ids import RequestIdTransform, log_request

ID = r"([A-Za-z0-9_\-]{1,64})"


def api_routes() -> list[tuple[str, type]]:
    return [
        (r"/health", ops.HealthHandler),
        (r"/openapi\.json", OpenApiHandler),
        (r"/metrics", ops.MetricsHandler),
        (r"/api/v1/test/merchant", ops.TestMerchantHandler),
        (r"/api/v1/test/jobs/status", ops.JobsStatusHandler),
        (r"/api/v1/orders", orders.OrdersHandler),
        (rf"/api/v1/orders/{ID}/public", orders.OrderPublicHandler),
        (rf"/api/v1/orders/{ID}", orders.OrderHandler),
        (r"/api/v1/payments", payments.PaymentsHandler),
        (r"/api/v1/payments/public", payments.PublicPaymentsHandler),
        (rf"/api/v1/payments/{ID}/public", payments.PublicPaymentHandler),
        (rf"/api/v1/payments/{ID}/capture", payments.CaptureHandler),
        (rf"/api/v1/payments/{ID}/transitions", payments.PaymentTransitionsHandler),
        (rf"/api/v1/payments/{ID}/refunds", refunds.PaymentRefundsHandler),
        (rf"/api/v1/payments/{ID}", payments.PaymentHandler),
        (r"/api/v1/refunds", refunds.RefundsHandler),
        (rf"/api/v1/refunds/{ID}/transitions", refunds.RefundTransitionsHandler),
        (rf"/api/v1/refunds/{ID}", refunds.RefundHandler),
        (r"/api/v1/webhooks", webhooks.WebhooksHandler),
        (rf"/api/v1/webhooks/{ID}/retry", webhooks.WebhookRetryHandler),
        (rf"/api/v1/webhooks/{ID}/transitions", webhooks.WebhookTransitionsHandler),
        (rf"/api/v1/webhooks/{ID}", webhooks.WebhookHandler),
        (r"/api/v1/webhook_endpoints", webhook_endpoints.EndpointsHandler),
        (rf"/api/v1/webhook_endpoints/{ID}/secret/roll", webhook_endpoints.EndpointRollHandler),
        (rf"/api/v1/webhook_endpoints/{ID}/recover", webhook_endpoints.EndpointRecoverHandler),
        (rf"/api/v1/webhook_endpoints/{ID}/test", webhook_endpoints.EndpointTestHandler),
        (rf"/api/v1/webhook_endpoints/{ID}", webhook_endpoints.EndpointHandler),
        (r"/api/v1/events", webhook_endpoints.EventsHandler),
        (rf"/api/v1/events/{ID}", webhook_endpoints.EventHandler),
        (r"/api/v1/merchant", merchant.MerchantHandler),
        (r"/api/v1/merchant/webhook", merchant.WebhookUrlHandler),
        (r"/api/v1/merchant/checkout_origins", merchant.CheckoutOriginsHandler),
        (r"/api/v1/merchant/logo", merchant.LogoHandler),
        (r"/api/v1/merchant/webhook/secret", merchant.WebhookSecretHandler),
        (r"/api/v1/merchant/webhook/test", merchant.WebhookTestHandler),
        (r"/api/v1/merchant/keys/roll", merchant.KeyRollHandler),
    ]


def slash_optional(routes: list[tuple[str, type]]) -> list[tuple[str, type]]:
    """The API routes also answer with one trailing slash (``/api/v1/orders/``), as most
    clients expect: a redirect would turn a POST into a GET in many of them, and a 404 for a
    stray slash only costs a newcomer time."""
    return [(pattern if pattern.endswith(("/?", "(?:/.*)?"))
             else pattern + "/?", handler) for pattern, handler in routes]


def make_app(deps: Deps, extra_routes: list[tuple[str, type]] | None = None,
             **settings: Any) -> Application:
    apis = api_routes() + admin_routes() + (
        razorpay.routes() if deps.settings.razorpay_front else [])
    routes = [(pattern, handler, {"deps": deps})
              for pattern, handler in (extra_routes or []) + checkout_routes()
              + slash_optional(apis) + dashboard_routes() + ops_routes()]
    settings.setdefault("log_function", log_request)
    app = Application(routes, default_handler_class=NotFoundHandler,
                      default_handler_args={"deps": deps}, **settings)
    app.add_transform(RequestIdTransform)
    return app
