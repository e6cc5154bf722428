"""The merchant API's per-key limit: fixed windows counted in memory, with an injected clock."""

from __future__ import annotations

from paystate.engine.rate_limits import LocalLimits, rate


def test_a_window_allows_its_amount_then_says_when_to_retry() -> None:
    now = [100.0]
    limits = LocalLimits(clock=lambda: now[0])
    per_minute = rate("3/minute")
    assert [limits.acquire(per_minute, "merchant", "m1") for _ in range(3)] == [None] * 3
    now[0] += 20
    assert limits.acquire(per_minute, "merchant", "m1") == 40
    assert limits.acquire(per_minute, "merchant", "m2") is None  # keys are counted apart
    now[0] += 40
    assert limits.acquire(per_minute, "merchant", "m1") is None  # a new window


def test_stale_windows_are_swept() -> None:
    now = [0.0]
    limits = LocalLimits(clock=lambda: now[0], sweep_every=5)
    per_second = rate("1/second")
    for i in range(4):
        limits.acquire(per_second, "merchant", f"k{i}")
    now[0] += 2
    limits.acquire(per_second, "merchant", "fresh")
    assert limits.acquire(per_second, "merchant", "k0") is None
    assert len(limits._windows) <= 2


def test_acquire_all_answers_the_first_refusal_and_counts_every_check_before_it() -> None:
    """The sign-in limit's fallback while Redis is away: per address and per email at once."""
    now = [0.0]
    limits = LocalLimits(clock=lambda: now[0])
    two = rate("2/minute")
    checks = [(two, "login-client", "10.0.0.1"), (two, "login-email", "a@b.c")]
    assert limits.acquire_all(checks) is None
    assert limits.acquire_all(checks) is None
    assert limits.acquire_all(checks) == 60
    # Another address guessing the same email is stopped by the email's count.
    now[0] += 30
    assert limits.acquire_all([(two, "login-client", "10.0.0.2"),
                               (two, "login-email", "a@b.c")]) == 30
