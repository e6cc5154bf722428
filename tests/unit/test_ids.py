"""Ids: prefix + 16 characters of [A-Za-z0-9], spread evenly over the alphabet."""

from __future__ import annotations

import collections
import re

from paystate.engine.ids import new_id


def test_shape_and_uniqueness() -> None:
    ids = {new_id("pay_") for _ in range(5000)}
    assert len(ids) == 5000
    assert all(re.fullmatch(r"pay_[A-Za-z0-9]{16}", i) for i in ids)


def test_every_character_is_about_equally_likely() -> None:
    counts = collections.Counter("".join(new_id("")[0:] for _ in range(6200)))
    assert len(counts) == 62
    expected = 6200 * 16 / 62  # 1,600 each
    assert all(abs(n - expected) < 0.2 * expected for n in counts.values())
