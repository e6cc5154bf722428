"""/metrics: Prometheus text with requests, transitions, queue depth and latency histograms."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support import Client, ThreadGateway


def samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", auth=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_and_transitions(gateway: ThreadGateway) -> None:
    # One process's own registry: in the deployed layout the settlements are the worker's.
    client = gateway.client
    payment = client.upi_payment(client.order()["id"])
    client.wait_payment(payment["id"])
    client.get("/api/v1/orders/order_doesnotexist00")
    m = samples(client)
    created = m[("paystate_transitions_total", (("from_state", "none"), ("machine", "payment"),
                                                 ("to_state", "pending")))]
    settled = m[("paystate_transitions_total", (("from_state", "pending"), ("machine", "payment"),
                                                 ("to_state", "success")))]
    assert created >= 1 and settled >= 1
    assert m[("paystate_http_requests_total", (("handler", "PaymentsHandler"), ("method", "POST"),
                                                ("status", "201")))] >= 1
    assert m[("paystate_http_requests_total", (("handler", "OrderHandler"), ("method", "GET"),
                                                ("status", "404")))] >= 1
    assert m[("paystate_http_request_duration_seconds_count",
              (("handler", "OrdersHandler"),))] >= 1
    assert any(name == "paystate_queue_depth" for name, _ in m)
    assert m[("paystate_shard_batch_commit_seconds_count", ())] >= 2


def test_metrics_count_webhook_attempts_by_outcome(gateway: object, settings: object,
                                                   paystate_webhook_receiver: object) -> None:
    from paystate.testing import WebhookReceiver
    from tests.support import ThreadGateway, wait_until
    from tests.webhooks_support import new_merchant

    assert isinstance(gateway, ThreadGateway)
    receiver = paystate_webhook_receiver
    assert isinstance(receiver, WebhookReceiver)
    _mid, merchant = new_merchant(settings, gateway.url,  # type: ignore[arg-type]
                                  webhook_url=receiver.url)
    assert merchant.post("/api/v1/merchant/webhook/test").status_code in (200, 201)
    key = ("paystate_webhook_attempts_total", (("outcome", "success"),))
    wait_until(lambda: samples(gateway.client).get(key, 0) >= 1, 10, 0.05, "attempt metric")
    m = samples(gateway.client)
    assert m[("paystate_webhook_attempt_duration_seconds_count", ())] >= 1
