"""The local process pool (the default executor) outlives its workers, on SQLite and PostgreSQL:
a worker killed mid-run has its task rerun, and a file that crashes its worker every time ends
as NULL values with the reason (an error under ``strict``), as on Dask (tests/test_dask.py).

Faults are injected by patching ``feature_eval.read_tables`` in this process before the pool
forks its workers (and the workers it starts again after a death): obscat has no test switch.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
import sqlalchemy as sa
from conftest import snapshot
from test_dask import FEATURES, _victim, single_process, stored, wait_for

from obscat import InputError
from obscat.compute import feature_eval
from obscat.compute.local_pool import ALLOWED_FAILURES

pytestmark = pytest.mark.slow
TIMES = ALLOWED_FAILURES + 1


def test_worker_killed_mid_run_its_task_is_rerun_and_every_value_stored_once(hess, db_url, tmp_path, monkeypatch):
    """The first file read blocks its worker for good and writes the worker's pid; the test
    SIGKILLs it then. The pool reruns the task: the stored rows are exactly a single-process run's."""
    read_tables = feature_eval.read_tables

    def hold_first(path, *args, **kwargs):
        try:
            os.close(os.open(tmp_path / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return read_tables(path, *args, **kwargs)
        (tmp_path / "held.tmp").write_text(str(os.getpid()))
        (tmp_path / "held.tmp").replace(tmp_path / "held")
        threading.Event().wait()  # until the test kills this process

    killed = []

    def kill_the_busy_worker():
        held = wait_for(lambda: (tmp_path / "held").exists() and tmp_path / "held", "busy worker")
        killed.append(int(held.read_text()))
        os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_busy_worker, daemon=True)
    killer.start()
    with monkeypatch.context() as patch:
        patch.setattr(feature_eval, "read_tables", hold_first)
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
    read_tables = feature_eval.read_tables

    def crashing(file, *args, **kwargs):
        if str(file) == path:
            os.kill(os.getpid(), signal.SIGKILL)
        return read_tables(file, *args, **kwargs)

    reason = f"the worker process computing it died {TIMES} times (SIGKILL): {path}"
    before = snapshot(db_url)
    with monkeypatch.context() as patch:
        patch.setattr(feature_eval, "read_tables", crashing)
        with pytest.raises(InputError) as error:
            hess.compute_features("1 TeV", features=FEATURES, workers=2, strict=True)
        assert str(error.value) == f"OBS_ID {obs_id}: edisp-res: {reason}"
        assert snapshot(db_url) == before
        table = hess.compute_features("1 TeV", features=FEATURES, workers=2)
    assert table.meta["crashed"] == [f"OBS_ID {obs_id} (1 observation) stored as NULL: {reason}"]
    crashed = stored(db_url)
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        nulls = conn.execute(sa.text("SELECT o.obs_id, v.feature, v.null_reason FROM feature_value v "
                                     "JOIN observation o ON o.id = v.observation_id "
                                     "WHERE v.value IS NULL ORDER BY v.feature")).all()  # fmt: skip
    engine.dispose()
    assert [tuple(row) for row in nulls] == [(obs_id, feature, reason) for feature in sorted(FEATURES)]
    normal = single_process(hess, db_url)  # the patch is gone: this process reads the file
    assert crashed["file_use"] == normal["file_use"]
    others = [row for row in normal["feature_value"] if row not in crashed["feature_value"]]
    assert len(others) == len(FEATURES)  # the victim's rows only: every other one is identical
