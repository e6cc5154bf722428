"""Dashboard sign-in and sessions: the findings of the second defect hunt, reproduced.

- with the shared (Redis) limit unreachable, wrong passwords are still throttled.
"""

from __future__ import annotations

import time

from paystate.config import Settings
from paystate.engine.rate_limits import SharedLimits
from tests.e2e.test_dashboard import new_operator
from tests.e2e.test_dashboard_live import sign_in
from tests.support import ThreadGateway, free_port, make_settings

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
