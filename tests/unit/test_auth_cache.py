"""The API-key cache: unknown keys are remembered briefly and boundedly, and answered with the
same work as a wrong secret."""

from __future__ import annotations

from paystate.engine.merchants import AuthCache, Merchant
from paystate.engine.secrets_hash import hash_api_secret

MERCHANT = Merchant(id="m1", name="M", email="m@example.com", api_key="key_a",
                    webhook_url=None, webhook_secret="whsec_x")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_unknown_key_is_refused_from_memory_until_its_short_ttl_ends() -> None:
    clock = Clock()
    cache = AuthCache(unknown_ttl=2.0, clock=clock)
    assert cache.get("key_x", "s") is False
    cache.put_unknown("key_x")
    assert cache.get("key_x", "s") is None
    clock.now += 1.9
    assert cache.get("key_x", "s") is None
    clock.now += 0.2
    assert cache.get("key_x", "s") is False  # asked again: a merchant may have been made


def test_unknown_keys_are_bounded_and_the_oldest_go_first() -> None:
    cache = AuthCache(max_unknown=3, clock=Clock())
    for key in ("k1", "k2", "k3"):
        cache.put_unknown(key)
    cache.put_unknown("k1")  # seen again: the youngest now
    cache.put_unknown("k4")
    assert [cache.get(k, "s") for k in ("k1", "k2", "k3", "k4")] == [None, False, None, None]


def test_a_key_found_later_is_no_longer_unknown() -> None:
    cache = AuthCache(clock=Clock())
    cache.put_unknown("key_a")
    cache.put("key_a", hash_api_secret("right"), MERCHANT)
    assert cache.get("key_a", "right") == MERCHANT
    assert cache.get("key_a", "wrong") is None
