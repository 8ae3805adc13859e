"""A Dask worker preload for tests/test_dask.py (``distributed.worker.preload``): each worker
process imports it at start, so the faults it injects reach worker processes Dask starts or
restarts, and obscat's own code has no test switch. Environment variables choose the fault:

* ``OBSCAT_TEST_HOLD=DIR``: the first feature task (of all workers) writes its process id to
  ``DIR/held`` and then blocks for good: it is the busy worker a test kills. Its rerun, and
  every other task, runs as usual.
* ``OBSCAT_TEST_CRASH=PATH``: a worker reading the FITS file ``PATH`` dies at once (SIGKILL, as
  a segmentation fault in a C library would end it), every time.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from obscat.compute import feature_eval


def _hold(evaluate):
    folder = Path(os.environ["OBSCAT_TEST_HOLD"])

    def held(tasks, params, progress=None):
        try:
            os.close(os.open(folder / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return evaluate(tasks, params, progress)
        (folder / "held.tmp").write_text(str(os.getpid()))
        (folder / "held.tmp").replace(folder / "held")  # whole, for the test polling it
        threading.Event().wait()  # until the test kills this process

    return held


def _crash(read_tables):
    victim = os.environ["OBSCAT_TEST_CRASH"]

    def crashing(path, *args, **kwargs):
        if str(path) == victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return read_tables(path, *args, **kwargs)

    return crashing


if "OBSCAT_TEST_HOLD" in os.environ:
    feature_eval.evaluate = _hold(feature_eval.evaluate)
if "OBSCAT_TEST_CRASH" in os.environ:
    feature_eval.read_tables = _crash(feature_eval.read_tables)
