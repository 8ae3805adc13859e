"""IRF features on Dask distributed (issue 12 item 1), on SQLite and PostgreSQL, with the failure
semantics of docs/executors.md: a worker killed mid-run, a file that crashes its worker every
time, the client killed, the scheduler unreachable. Faults reach the worker processes through
the preload tests/dask_hooks.py; the LocalClusters have 2 single-threaded workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import distributed  # noqa: F401  (its defaults in dask.config before the tests set some)
import pytest
import sqlalchemy as sa
from conftest import snapshot
from procs import Obscat, WriteProbe, wait_backends_gone
from typer.testing import CliRunner

from obscat import Catalog, InputError, ParameterError
from obscat.cli.app import app

pytestmark = pytest.mark.slow
HOOKS = str(Path(__file__).with_name("dask_hooks.py"))
FEATURES = ["edisp-res", "psf-radius", "aeff"]


def stored(url: str) -> dict[str, list[tuple]]:
    """The stored values and the file versions they were computed from, every row (file_use
    without its ``id``, a row counter)."""
    rows = snapshot(url)
    return {"feature_value": rows["feature_value"], "file_use": sorted(row[1:] for row in rows["file_use"])}


def single_process(catalog, url: str) -> dict[str, list[tuple]]:
    """The same set computed again in this process (``workers=1``), as stored."""
    catalog.compute_features("1 TeV", features=FEATURES, workers=1)
    return stored(url)


def wait_for(condition, what: str, timeout: float = 120):
    """Poll ``condition()`` until it returns something true (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.01)
    return found


def kill_the_busy_worker(folder: Path) -> tuple[threading.Thread, list[int]]:
    """A started thread that SIGKILLs the process whose id a held task writes to ``folder/held``
    (polled: no sleep guesses when it is busy), and the list it puts that id in."""
    killed: list[int] = []

    def kill():
        held = wait_for(lambda: (folder / "held").exists() and folder / "held", "busy worker")
        killed.append(int(held.read_text()))
        os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    return killer, killed


def null_values(url: str) -> list[tuple]:
    """``(OBS_ID, feature, reason)`` of every NULL value stored, by feature."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        nulls = conn.execute(sa.text("SELECT o.obs_id, v.feature, v.null_reason FROM feature_value v "
                                     "JOIN observation o ON o.id = v.observation_id "
                                     "WHERE v.value IS NULL ORDER BY v.feature")).all()  # fmt: skip
    engine.dispose()
    return [tuple(row) for row in nulls]


def assert_only_the_victim_differs(catalog, url: str, crashed: dict[str, list[tuple]]) -> None:
    """``crashed`` (stored after a run with a crashing file) equals a single-process run but for the
    victim's values: the same file versions, every other value identical."""
    normal = single_process(catalog, url)
    assert crashed["file_use"] == normal["file_use"]
    others = [row for row in normal["feature_value"] if row not in crashed["feature_value"]]
    assert len(others) == len(FEATURES)  # the victim's rows only: every other one is identical
    assert len(crashed["feature_value"]) == len(normal["feature_value"]) == 105 * len(FEATURES)


def test_worker_killed_mid_run_its_task_is_rerun_and_every_value_stored_once(hess, db_url, tmp_path, monkeypatch):
    """The first task holds its worker busy (dask_hooks.py) and says so in a file; the test
    SIGKILLs that worker then. Dask reruns the task elsewhere: the stored rows are exactly a
    single-process run's."""
    monkeypatch.setenv("OBSCAT_TEST_HOLD", str(tmp_path))
    killer, killed = kill_the_busy_worker(tmp_path)
    with dask.config.set({"distributed.worker.preload": [HOOKS]}):
        table = hess.compute_features("1 TeV", features=FEATURES, executor="dask", workers=2)
    killer.join()
    assert killed and killed[0] != os.getpid()
    assert table.meta["n_computed"] == 105 and table.meta["crashed"] == []
    after = stored(db_url)
    assert len(after["feature_value"]) == 105 * len(FEATURES)  # once each: the key is (set, observation, feature)
    assert after == single_process(hess, db_url)


def _victim(hess_dir: Path) -> tuple[int, str]:
    """An observation and its file (events and IRFs: one file per H.E.S.S. observation)."""
    path = (hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz").resolve()
    assert path.exists()
    return 23523, str(path)


def test_a_file_crashing_its_worker_every_time_is_null_with_the_reason(hess, db_url, hess_dir, monkeypatch):
    """Reading one file SIGKILLs the worker (dask_hooks.py), as a C-level crash would, on every
    try. With allowed-failures 1 Dask gives up after 2 deaths; obscat then resubmits the chunk
    file by file, and the file's observation alone is NULL with the reason (2 more deaths)."""
    obs_id, path = _victim(hess_dir)
    monkeypatch.setenv("OBSCAT_TEST_CRASH", path)
    config = {"distributed.worker.preload": [HOOKS], "distributed.scheduler.allowed-failures": 1}
    before = snapshot(db_url)
    with dask.config.set(config), pytest.raises(InputError) as error:
        hess.compute_features("1 TeV", features=FEATURES, executor="dask", workers=2, strict=True)
    assert str(error.value) == (f"OBS_ID {obs_id}: edisp-res: the worker computing it crashed 2 times "
                                f"(KilledWorker): {path}")  # fmt: skip
    assert snapshot(db_url) == before

    with dask.config.set(config):
        table = hess.compute_features("1 TeV", features=FEATURES, executor="dask", workers=2)
    reason = f"the worker computing it crashed 2 times (KilledWorker): {path}"
    assert table.meta["crashed"] == [f"OBS_ID {obs_id} (1 observation) stored as NULL: {reason}"]
    assert null_values(db_url) == [(obs_id, feature, reason) for feature in sorted(FEATURES)]
    assert_only_the_victim_differs(hess, db_url, stored(db_url))


def test_client_killed_the_rerun_computes_only_what_is_missing(hess, db_url, tmp_path):
    """``obscat features compute --executor dask`` writes a batch per chunk (WRITE_BATCH set to 1
    in the process), one chunk held busy for good (dask_hooks.py) so that the run cannot end; the
    test SIGKILLs the client (and its LocalCluster: its process group) once batches are stored."""
    args = ("features", "compute", "-e", "1 TeV", *(f"-F{f}" for f in FEATURES), "--executor", "dask", "-j", "2")
    setup = "import obscat.compute.features as f; f.WRITE_BATCH = 1"
    env = {"OBSCAT_TEST_HOLD": str(tmp_path), "DASK_DISTRIBUTED__WORKER__PRELOAD": repr([HOOKS])}
    proc = Obscat(args, db_url, setup=setup, env=env)
    engine = sa.create_engine(db_url)
    count = sa.text("SELECT count(DISTINCT observation_id) FROM feature_value")
    probe = WriteProbe(db_url, proc.app)
    try:
        with engine.connect() as conn:
            wait_for(lambda: conn.execute(count).scalar_one() > 0 or not proc.running(), "batch")
        assert proc.running(), proc.describe()
        assert (tmp_path / "held").exists()  # so the run was unfinished
        proc.kill9()
        proc.wait()
        wait_backends_gone(probe)  # PostgreSQL has rolled back a write in flight
        with engine.connect() as conn:
            done = conn.execute(count).scalar_one()
    finally:
        probe.close()
        engine.dispose()
    assert 0 < done < 105

    result = CliRunner().invoke(app, ["--db", db_url, *args])
    assert result.exit_code == 0, result.output
    assert re.search(rf"^feature set fs-\w+: 105 observations \({105 - done} computed\)$", result.stderr, re.M)
    assert re.search(r"^Dask dashboard: http://\S+/status$", result.stderr, re.M)
    rerun = stored(db_url)
    catalog = Catalog(db_url)
    try:
        assert rerun == single_process(catalog, db_url)
    finally:
        catalog.close()


def test_scheduler_unreachable_one_line_error_nothing_written(hess, db_url):
    before = snapshot(db_url)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(app, ["--db", db_url, "features", "compute", "-e", "1 TeV",
                                          "--executor", "dask=tcp://127.0.0.1:1"])  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == ("Error: cannot reach the Dask scheduler at tcp://127.0.0.1:1: Timed out trying to "
                             "connect to tcp://127.0.0.1:1 after 1 s\n")  # fmt: skip
    assert snapshot(db_url) == before


def test_any_executor_and_the_executor_names(hess, db_url):
    with ThreadPoolExecutor(2) as pool:
        table = hess.compute_features("1 TeV", features=FEATURES, executor=pool)
    assert table.meta["n_computed"] == 105
    threads = stored(db_url)
    assert threads == single_process(hess, db_url)
    before = snapshot(db_url)
    for bad in ("dask=", "dask=127.0.0.1:8786", "slurm", "Dask"):
        with pytest.raises(ParameterError, match=re.escape(f'`executor` must be "process", "dask", "dask=ADDRESS" '
                                                           f"(e.g. dask=tcp://host:8786) or a concurrent.futures.Executor, not {bad!r}")):  # fmt: skip
            hess.compute_features("1 TeV", features=FEATURES, executor=bad)
    result = CliRunner().invoke(app, ["--db", db_url, "features", "compute", "-e", "1 TeV", "--executor", "slurm"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: --executor must be ")
    assert snapshot(db_url) == before


def test_without_dask_obscat_runs_and_says_how_to_install_it(hess, db_url, monkeypatch):
    code = ("import sys, obscat.cli.app, obscat.compute.features, obscat.compute.executors; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    before = snapshot(db_url)
    result = CliRunner().invoke(app, ["--db", db_url, "features", "compute", "-e", "1 TeV", "--executor", "dask"])
    assert result.exit_code == 1
    assert result.stderr == "Error: the Dask executor needs Dask distributed: pip install 'obscat[dask]'\n"
    assert snapshot(db_url) == before
    assert hess.compute_features("1 TeV", features=FEATURES, executor="process").meta["n_computed"] == 105


def test_group_cluster_on_dask_stores_the_values_and_groups_of_one_process(hess, db_url):
    """`group cluster -e ... --executor dask` computes the features on Dask (dashboard printed):
    the values stored are a single-process run's, and so are the groups."""
    features = ["edisp-res", "psf-radius"]
    args = ["--db", db_url, "group", "cluster", "-e", "1 TeV", *(a for f in features for a in ("-F", f)), "-k", "4"]
    result = CliRunner().invoke(app, [*args, "--name", "on-dask", "--executor", "dask", "-j", "2"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Dask dashboard: http://")
    on_dask = stored(db_url)
    assert len(on_dask["feature_value"]) == 105 * len(features)
    table = hess.compute_features("1 TeV", features=features, workers=1)  # every value again, in process
    assert stored(db_url) == on_dask
    hess.cluster("in-process", features, feature_set=table.meta["feature_set"], n_groups=4)
    labels = {name: [tuple(row) for row in hess.grouping(name).members] for name in ("on-dask", "in-process")}
    assert labels["on-dask"] == labels["in-process"] and len(labels["on-dask"]) == 105
