"""What the supervisor imports before it sets up its children. prometheus_client picks its value
class (in memory, or files in ``PROMETHEUS_MULTIPROC_DIR``) when first imported, and the forked
children inherit the parent's modules: were the library imported before the supervisor put the
directory in the environment, every child would count in memory and a scrape would show one
process only. Nor does the supervisor need psycopg to migrate (a ``paystate migrate`` child
does it)."""

from __future__ import annotations

import subprocess
import sys

NOT_BEFORE_THE_CHILDREN = ("prometheus_client", "psycopg", "paystate.server",
                           "paystate.bootstrap", "paystate.engine.metrics")


def test_the_supervisors_own_imports_leave_out_prometheus_and_the_app() -> None:
    # A fresh interpreter: this test process has long imported all of them.
    code = ("import sys, paystate.__main__, paystate.supervisor, paystate.addresses; "
            f"print([m for m in {NOT_BEFORE_THE_CHILDREN!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
