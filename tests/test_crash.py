"""kill -9 in the middle of a write (issue #5 item 2), on SQLite and PostgreSQL.

Each test runs an ``obscat`` process that writes a lot (an ingest of 12,000
observations and an update of them, features of 6,000 observations, a clustering
of 6,000), watches it until it is inside its write transaction and SIGKILLs its
process group there:

* SQLite: once it holds the write lock (the whole transaction lives in its page
  cache until the commit), or a given time after that;
* PostgreSQL: once its backend has a transaction id (it has written) and, for the
  ingest and the features, is running the big bulk statement (``COPY hdu``,
  ``COPY feature_value``): rows are reaching the server's tables.

Then the catalogue must pass the integrity checks, hold exactly what it held before
(every row of every table, and every index and constraint, which a bulk load drops
and rebuilds inside the transaction), and the same command run again must succeed
and give the complete result.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time

import pytest
import sqlalchemy as sa
from procs import (
    Obscat,
    WriteProbe,
    backend,
    fingerprint,
    integrity_problems,
    record,
    schema_objects,
    wait_backends_gone,
    wait_for_write,
    write_window,
)

from obscat import Catalog

N = 12_000  # more than bulk_load's 10,000: the ingest drops and rebuilds indexes (and PostgreSQL foreign keys)
N_MID = 6_000  # features and clustering
N_FILES = 20
FEATURES = ("edisp-res", "edisp-bias", "psf-radius")


@pytest.fixture(scope="module")
def crash_stores(tmp_path_factory):
    """``big`` (N observations), ``mid`` (N_MID; ingested under the name ``big`` it updates
    some of big's observations, removes the others and adds more) and a small store."""
    from obscat.gadf.synthetic import make_data_store

    root = tmp_path_factory.mktemp("crash-stores")
    make_data_store(root / "big", N, seed=5, n_files=N_FILES)
    make_data_store(root / "mid", N_MID, seed=5, n_files=N_FILES)
    make_data_store(root / "small", 40, seed=6, n_files=4)
    return root


def obs_ids(store) -> set[int]:
    from astropy.table import Table

    return set(Table.read(store / "obs-index.fits.gz")["OBS_ID"].tolist())


def kill_mid_write(url: str, args: tuple[str, ...], *, statement: str | None = None, after: float = 0.0) -> dict:
    """Run ``obscat ARGS`` and SIGKILL it inside its write transaction: on PostgreSQL while
    its backend runs ``statement``, on SQLite ``after`` seconds after it took the write
    lock. Checks it was still inside the instant before the kill, and waits until the
    server has let it go. Returns where the kill landed."""
    proc = Obscat(args, url)
    probe = WriteProbe(url, proc.app)
    try:
        started, seen = wait_for_write(proc, probe)
        if probe.kind == "postgresql" and statement is not None:
            while seen is not None and statement not in seen:
                time.sleep(0.001)
                seen = probe.statement()
        else:
            while time.perf_counter() - proc.started < started + after:
                time.sleep(0.001)
            seen = probe.statement()
        at = time.perf_counter() - proc.started - started
        proc.kill9()
        proc.wait()
        assert seen is not None, f"the write transaction ended before the kill ({at:.3f} s in)"
        assert proc.returncode == -signal.SIGKILL, proc.describe()
        gone = wait_backends_gone(probe)
    finally:
        probe.close()
    return {"s_into_write": round(at, 3), "inside": seen, "server_let_go_s": round(gone, 3)}


def complete(url: str, args: tuple[str, ...]) -> tuple[Obscat, float]:
    """Run ``obscat ARGS`` to the end (it must succeed); the length of its write transaction."""
    proc = Obscat(args, url)
    probe = WriteProbe(url, proc.app)
    try:
        _, window = write_window(proc, probe)
    finally:
        probe.close()
    assert proc.returncode == 0, proc.describe()
    return proc, window


def check_untouched(url: str, rows: dict, objects: dict) -> None:
    """After a kill: consistent, and exactly as it was (rows, indexes, constraints)."""
    assert integrity_problems(url) == []
    assert schema_objects(url) == objects
    assert fingerprint(url) == rows


def scalar(url: str, sql: str):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql)).scalar_one()
    engine.dispose()
    return value


def _point_at(store, source) -> None:
    """``store``'s index files become copies of ``source``'s, its ``data`` a link to ``source``'s data:
    one store (the same index files) whose content changes, as a re-ingest sees it."""
    for name in ("obs-index.fits.gz", "hdu-index.fits.gz"):
        shutil.copyfile(source / name, store / name)
    (store / "data").unlink(missing_ok=True)
    (store / "data").symlink_to(source / "data")


def test_kill_during_ingest(db_url, crash_stores, tmp_path):
    store = tmp_path / "big"
    store.mkdir()
    _point_at(store, crash_stores / "big")
    with Catalog(db_url) as cat:  # something already there, derived rows included
        cat.ingest(crash_stores / "small", name="small")
        cat.split("zenith", "zen_pnt_deg")
    before, objects = fingerprint(db_url), schema_objects(db_url)

    # a new store, killed as soon as it writes (SQLite) or while it copies the HDU rows
    # (PostgreSQL: the observations are in, indexes and foreign keys dropped), then run again
    create = ("ingest", str(store), "--name", "big")
    kills = [{"what": "new store"} | kill_mid_write(db_url, create, statement="COPY hdu ")]
    check_untouched(db_url, before, objects)
    proc, window = complete(db_url, create)
    kills[0]["write_s"] = round(window, 3)
    assert f"store 'big' created: {N} observations, {6 * N} HDUs in {N_FILES} files" in proc.stdout
    assert integrity_problems(db_url) == [] and schema_objects(db_url) == objects
    assert scalar(db_url, "SELECT count(*) FROM observation") == N + 40

    # an update that adds, updates and removes observations: killed a third of the way
    # into the write (SQLite) or while it copies the new HDU rows, then run again
    old, new = obs_ids(crash_stores / "big"), obs_ids(crash_stores / "mid")
    added, kept, removed = len(new - old), len(new & old), len(old - new)
    assert added and kept and removed
    created = fingerprint(db_url)
    _point_at(store, crash_stores / "mid")
    update = ("ingest", str(store), "--name", "big")
    kills.append({"what": "update of the store"} | kill_mid_write(db_url, update, statement="COPY hdu ",
                                                                  after=window / 3))  # fmt: skip
    check_untouched(db_url, created, objects)
    proc, window = complete(db_url, update)
    kills[1]["write_s"] = round(window, 3)
    assert f"({added} added, {kept} updated, {removed} removed)" in proc.stdout, proc.describe()
    assert integrity_problems(db_url) == [] and schema_objects(db_url) == objects
    assert scalar(db_url, "SELECT count(*) FROM hdu") == 6 * (len(new) + 40)
    record("crash", operation="ingest", backend=backend(db_url), kills=kills, rows_lost=0)


def test_kill_during_feature_computation(db_url, crash_stores):
    with Catalog(db_url) as cat:  # the same feature set already holds 500 observations
        cat.ingest(crash_stores / "mid", name="mid")
        first = sorted(cat.observations(store="mid", columns=["obs_id"])["obs_id"])[:500]
        name = cat.compute_features("1 TeV", features=FEATURES, obs_ids=first, workers=1).meta["feature_set"]
    before, objects = fingerprint(db_url), schema_objects(db_url)
    n_values = f"SELECT count(*) FROM feature_value v JOIN feature_set s ON s.id = v.feature_set_id WHERE s.name = '{name}'"
    assert scalar(db_url, n_values) == 500 * len(FEATURES)

    command = ("features", "compute", "-e", "1 TeV", "--store", "mid", *(f"-F{f}" for f in FEATURES),
               "--format", "csv")  # fmt: skip
    kill = {"what": "features of every observation"} | kill_mid_write(db_url, command, statement="COPY feature_value")
    check_untouched(db_url, before, objects)
    proc, kill["write_s"] = complete(db_url, command)
    assert f"feature set {name}: {N_MID} observations" in proc.stderr, proc.describe()
    assert scalar(db_url, n_values) == N_MID * len(FEATURES)
    assert integrity_problems(db_url) == []
    record("crash", operation="features compute", backend=backend(db_url), kills=[kill], rows_lost=0)


def test_kill_during_clustering(db_url, crash_stores):
    features = ("edisp-res", "psf-radius")
    with Catalog(db_url) as cat:  # features computed, and an older clustering under the same name
        cat.ingest(crash_stores / "mid", name="mid")
        feature_set = cat.compute_features("1 TeV", features=features, workers=1).meta["feature_set"]
        cat.cluster("irf", features, feature_set=feature_set, n_groups=2)
    before, objects = fingerprint(db_url), schema_objects(db_url)

    command = ("group", "cluster", "--name", "irf", "--replace", "--feature-set", feature_set,
               *(f"-F{f}" for f in features), "-k", "5")  # fmt: skip
    # killed at its first write (the old grouping's deletion): its COPY of 6,000 members is
    # too short to be hit reliably on a loaded machine
    kill = {"what": "clustering replacing a grouping"} | kill_mid_write(db_url, command)
    check_untouched(db_url, before, objects)
    proc, kill["write_s"] = complete(db_url, command)
    found = re.search(rf"grouping 'irf': {N_MID} observations in (\d+) groups", proc.stderr)
    assert found, proc.describe()
    assert scalar(db_url, "SELECT count(*) FROM group_member") == N_MID
    assert scalar(db_url, "SELECT count(DISTINCT label) FROM group_member") == int(found.group(1)) > 2
    assert integrity_problems(db_url) == []
    record("crash", operation="group cluster", backend=backend(db_url), kills=[kill], rows_lost=0)


def test_pool_workers_exit_when_the_client_is_killed(hess, db_url, tmp_path):
    """``features compute`` SIGKILLed while its pool workers are busy (each held in a task that
    marks it with its pid): the workers exit on their own instead of waiting for work forever."""
    setup = f"""
import os, pathlib, time
import obscat.compute.executors as x, obscat.compute.feature_eval as e
def evaluate(tasks, params, progress=None):
    pathlib.Path({str(tmp_path)!r}, f"held-{{os.getpid()}}").touch()
    time.sleep(600)
evaluate.__module__ = "obscat.compute.feature_eval"
e.evaluate = x.evaluate = evaluate
"""
    proc = Obscat(("features", "compute", "-e", "1 TeV", "-j", "2"), db_url, setup=setup)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("held-*")) and time.monotonic() < deadline:
            assert proc.running(), proc.describe()
            time.sleep(0.01)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("held-*")]
        assert workers and proc.proc.pid not in workers
        os.kill(proc.proc.pid, signal.SIGKILL)  # the client alone, not its process group
        proc.wait()
        deadline = time.monotonic() + 30
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        if proc.running():
            proc.kill9()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (not gone, not a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
