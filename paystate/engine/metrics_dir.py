"""The supervisor's side of multiprocess metrics: one directory per run for its children's
prometheus_client files, and forgetting a dead child's live gauges.

Apart from ``engine/metrics.py`` because prometheus_client picks its value class (in-memory, or
files in ``PROMETHEUS_MULTIPROC_DIR``) when it is first imported: the supervisor makes the
directory and puts it in the environment before anything imports the library, which this module
therefore does only inside ``process_exited``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

#: Where prometheus_client looks for the directory of a deployment's processes.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def run_directory() -> Iterator[str]:
    """A fresh, empty directory for one run of a deployment (``$TMPDIR/paystate-metrics-*``),
    for the supervisor to hand its children in ``MULTIPROC_DIR_ENV``: a run never adds up the
    files of an earlier one. Removed on leaving (a supervisor killed with SIGKILL leaves it:
    a few small files, never read again)."""
    directory = tempfile.mkdtemp(prefix="paystate-metrics-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def process_exited(directory: str, pid: int) -> None:
    """Forget the live gauges of process ``pid``, which exited (its counters stay counted)."""
    # Here, not at the top: see the module's docstring.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)
