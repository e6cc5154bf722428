"""/health checks PostgreSQL, Redis and the worker heartbeat for real, and names what failed."""

from __future__ import annotations

from paystate import __version__
from paystate.config import Settings
from tests.support import ThreadGateway, free_port, make_settings


def test_healthy_names_the_running_version(gateway: ThreadGateway) -> None:
    r = gateway.client.get("/health", auth=False)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["database"], body["redis"], body["worker"]) == (
        "healthy", "connected", "connected", "running")
    assert body["version"] == __version__


def test_no_worker_is_unhealthy_and_says_so(base_settings: Settings) -> None:
    gw = ThreadGateway(make_settings(), worker=False).start()
    try:
        r = gw.client.get("/health", auth=False)
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unhealthy" and body["worker"] == "stopped"
        assert body["version"] == __version__
        assert body["database"] == "connected" and body["redis"] == "connected"
        jobs = gw.client.get("/api/v1/test/jobs/status", auth=False).json()
        assert jobs["worker_status"] == "stopped"
    finally:
        gw.stop()


def test_redis_down_is_named(base_settings: Settings) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    gw = ThreadGateway(make_settings(redis_url=dead), worker=False).start()
    try:
        r = gw.client.get("/health", auth=False)
        assert r.status_code == 503
        body = r.json()
        assert body["redis"] == "disconnected" and body["database"] == "connected"
        assert body["status"] == "unhealthy"
    finally:
        gw.stop()
