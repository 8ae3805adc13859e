"""A Dask worker preload for tests/test_dask.py (``distributed.worker.preload``): each worker
process imports it at start, so the faults it injects reach worker processes Dask starts or
restarts, and obscat's own code has no test switch. Environment variables choose the fault:

* ``OBSCAT_TEST_HOLD=DIR``: the first feature task (of all workers) writes its process id to
  ``DIR/held`` and then blocks for good: it is the busy worker a test kills. Its rerun, and
  every other task, runs as usual.
* ``OBSCAT_TEST_CRASH=PATH``: a worker reading the FITS file ``PATH`` dies at once (SIGKILL, as
  a segmentation fault in a C library would end it), every time.

tests/test_local_pool.py injects the same faults (:func:`held_once`, :func:`crashing_on`) into
the local pool's forked workers.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from obscat.compute import feature_eval


def held_once(function, folder: Path):
    """``function``, except that its first call (of all processes) writes the process id to
    ``folder/held`` and blocks for good; every later call runs as usual."""

    def held(*args, **kwargs):
        try:
            os.close(os.open(folder / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return function(*args, **kwargs)
        (folder / "held.tmp").write_text(str(os.getpid()))
        (folder / "held.tmp").replace(folder / "held")  # whole, for the test polling it
        threading.Event().wait()  # until the test kills this process

    return held


def crashing_on(read_tables, victim: str):
    """``read_tables``, except that reading the file ``victim`` kills the process (SIGKILL)."""

    def crashing(path, *args, **kwargs):
        if str(path) == victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return read_tables(path, *args, **kwargs)

    return crashing


if "OBSCAT_TEST_HOLD" in os.environ:
    feature_eval.evaluate = held_once(feature_eval.evaluate, Path(os.environ["OBSCAT_TEST_HOLD"]))
if "OBSCAT_TEST_CRASH" in os.environ:
    feature_eval.read_tables = crashing_on(feature_eval.read_tables, os.environ["OBSCAT_TEST_CRASH"])
