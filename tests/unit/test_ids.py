"""Ids: prefix + 16 characters of [A-Za-z0-9], spread evenly over the alphabet; UUIDs from the
same buffer are random (version 4) UUIDs."""

from __future__ import annotations

import collections
import os
import re
import uuid

from paystate.engine.ids import new_id, new_uuid


def test_shape_and_uniqueness() -> None:
    ids = {new_id("pay_") for _ in range(5000)}
    assert len(ids) == 5000
    assert all(re.fullmatch(r"pay_[A-Za-z0-9]{16}", i) for i in ids)


def test_every_character_is_about_equally_likely() -> None:
    counts = collections.Counter("".join(new_id("")[0:] for _ in range(6200)))
    assert len(counts) == 62
    expected = 6200 * 16 / 62  # 1,600 each
    assert all(abs(n - expected) < 0.2 * expected for n in counts.values())


def test_a_forked_child_does_not_reuse_its_parents_random_bytes() -> None:
    new_id("")  # the parent's buffer now holds bytes a child would see if it kept it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, new_id("").encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    assert len(child) == 16 and child != new_id("")


def test_uuids_are_distinct_version_4_uuids() -> None:
    made = [new_uuid() for _ in range(5000)]
    assert len(set(made)) == 5000
    parsed = [uuid.UUID(u) for u in made]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == made
