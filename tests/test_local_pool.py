"""The local process pool (the default executor) outlives its workers, on SQLite and PostgreSQL:
a worker killed mid-run has its task rerun, and a file that crashes its worker every time ends
as NULL values with the reason (an error under ``strict``), as on Dask (tests/test_dask.py).

Faults (tests/dask_hooks.py's, as on Dask) are injected by patching ``feature_eval.read_tables``
in this process before the pool forks its workers (and the workers it starts again after a
death): obscat has no test switch.
"""

from __future__ import annotations

import os

import pytest
from conftest import snapshot
from dask_hooks import crashing_on, held_once
from test_dask import (
    FEATURES,
    _victim,
    assert_only_the_victim_differs,
    kill_the_busy_worker,
    null_values,
    single_process,
    stored,
)

from obscat import InputError
from obscat.compute import feature_eval
from obscat.compute.local_pool import ALLOWED_FAILURES

pytestmark = pytest.mark.slow
TIMES = ALLOWED_FAILURES + 1


def test_worker_killed_mid_run_its_task_is_rerun_and_every_value_stored_once(hess, db_url, tmp_path, monkeypatch):
    """The first file read blocks its worker for good and writes the worker's pid; the test
    SIGKILLs it then. The pool reruns the task: the stored rows are exactly a single-process run's."""
    killer, killed = kill_the_busy_worker(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(feature_eval, "read_tables", held_once(feature_eval.read_tables, tmp_path))
        table = hess.compute_features("1 TeV", features=FEATURES, workers=2)
    killer.join()
    assert killed and killed[0] != os.getpid()
    assert table.meta["n_computed"] == 105 and table.meta["crashed"] == []
    after = stored(db_url)
    assert len(after["feature_value"]) == 105 * len(FEATURES)
    assert after == single_process(hess, db_url)


def test_a_file_crashing_its_worker_every_time_is_null_with_the_reason(hess, db_url, hess_dir, monkeypatch):
    """Reading one file SIGKILLs the worker, as a C-level crash would, on every try: the pool gives
    the task up after ALLOWED_FAILURES reruns, obscat resubmits the chunk file by file, and the
    file's observation alone is NULL with the reason."""
    obs_id, path = _victim(hess_dir)
    reason = f"the worker process computing it died {TIMES} times (SIGKILL): {path}"
    before = snapshot(db_url)
    with monkeypatch.context() as patch:
        patch.setattr(feature_eval, "read_tables", crashing_on(feature_eval.read_tables, path))
        with pytest.raises(InputError) as error:
            hess.compute_features("1 TeV", features=FEATURES, workers=2, strict=True)
        assert str(error.value) == f"OBS_ID {obs_id}: edisp-res: {reason}"
        assert snapshot(db_url) == before
        table = hess.compute_features("1 TeV", features=FEATURES, workers=2)
    assert table.meta["crashed"] == [f"OBS_ID {obs_id} (1 observation) stored as NULL: {reason}"]
    assert null_values(db_url) == [(obs_id, feature, reason) for feature in sorted(FEATURES)]
    assert_only_the_victim_differs(hess, db_url, stored(db_url))  # the patch is gone: this process reads the file
