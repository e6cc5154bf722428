"""The API-key cache: unknown keys are remembered briefly and boundedly, and answered with the
same work as a wrong secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paystate.engine.merchants import AuthCache, KeySecrets, Merchant
from paystate.engine.secrets_hash import hash_api_secret

MERCHANT = Merchant(id="m1", name="M", email="m@example.com", api_key="key_a",
                    webhook_secret="whsec_x")


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
    cache.put("key_a", KeySecrets(hash_api_secret("right")), MERCHANT)
    assert cache.get("key_a", "right") == MERCHANT
    assert cache.get("key_a", "wrong") is None


class Wall:
    """An injected wall clock: what a rolled secret's expiry is compared with."""

    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def test_a_rolled_secret_works_until_it_expires_and_not_a_moment_after() -> None:
    wall = Wall()
    cache = AuthCache(clock=Clock(), now=wall)
    cache.listening(True)
    rolled = KeySecrets(hash_api_secret("new"), hash_api_secret("old"),
                        wall.at + timedelta(hours=24))
    cache.put("key_a", rolled, MERCHANT)
    assert cache.get("key_a", "new") == MERCHANT
    assert cache.get("key_a", "old") == MERCHANT
    assert cache.get("key_a", "other") is None
    wall.at += timedelta(hours=24) - timedelta(microseconds=1)
    assert cache.get("key_a", "old") == MERCHANT
    wall.at += timedelta(microseconds=1)
    assert cache.get("key_a", "old") is None  # expired: no message needed, no query made
    assert cache.get("key_a", "new") == MERCHANT


def test_a_roll_with_no_overlap_stops_the_old_secret_at_once() -> None:
    wall = Wall()
    cache = AuthCache(clock=Clock(), now=wall)
    cache.put("key_a", KeySecrets(hash_api_secret("new"), hash_api_secret("old"), wall.at),
              MERCHANT)
    assert cache.get("key_a", "old") is None
    assert cache.get("key_a", "new") == MERCHANT


def test_without_the_change_channel_entries_live_two_seconds_at_most() -> None:
    clock = Clock()
    cache = AuthCache(ttl=30.0, fallback_ttl=2.0, clock=clock)
    cache.put("key_a", KeySecrets(hash_api_secret("right")), MERCHANT)  # not listening yet
    clock.now += 2.1
    assert cache.get("key_a", "right") is False  # read again: a change may have been missed
    cache.listening(True)
    cache.put("key_a", KeySecrets(hash_api_secret("right")), MERCHANT)
    clock.now += 20
    assert cache.get("key_a", "right") == MERCHANT
    cache.listening(False)  # the subscription dropped: whatever was cached is forgotten
    assert cache.get("key_a", "right") is False


def test_invalidate_forgets_the_merchant_and_that_its_new_keys_were_unknown() -> None:
    cache = AuthCache(clock=Clock())
    cache.put("key_a", KeySecrets(hash_api_secret("right")), MERCHANT)
    cache.put_unknown("key_new")
    cache.invalidate(MERCHANT.id, ("key_new",))
    assert cache.get("key_a", "right") is False
    assert cache.get("key_new", "s") is False
