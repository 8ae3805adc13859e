"""Many obscat processes at once on one catalogue (issue #5 item 3), on SQLite (WAL) and PostgreSQL.

Ten processes start together: ingests of two different stores, two ingests of the
SAME new store name, a feature computation, a clustering that computes the same
feature set on the fly, a split and three readers. Each must succeed, or fail with one
``Error:`` line saying it can be retried; no raw driver text (``database is locked``,
deadlocks, unique violations) may reach the user; the final rows must be exactly what
the successful processes reported, none lost and none duplicated.
"""

from __future__ import annotations

import contextlib
import csv
import io
import platform
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from procs import RAW_DRIVER_TEXT, Obscat, backend, counts, integrity_problems, record, sqlite_path

from obscat import Catalog

N_OBS = 300  # per store
N_FILES = 10
HDUS_PER_OBS = 6


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Synthetic stores: ``base`` (ingested before the race) and ``src`` copied as the
    stores the race ingests (same content, different directories)."""
    from obscat.gadf.synthetic import make_data_store

    root = tmp_path_factory.mktemp("race-stores")
    make_data_store(root / "base", N_OBS, seed=1, n_files=N_FILES)
    make_data_store(root / "src", N_OBS, seed=2, n_files=N_FILES)
    for name in ("s1", "s2", "twin"):
        shutil.copytree(root / "src", root / name)
    return root


def _check_output(proc: Obscat) -> str:
    """``ok`` or ``retryable``; anything else fails the test."""
    text = proc.stdout + proc.stderr
    for raw in RAW_DRIVER_TEXT:
        assert raw.lower() not in text.lower(), f"raw driver text {raw!r} reached the user:\n{proc.describe()}"
    if proc.returncode == 0:
        return "ok"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "retry" in errors[0], proc.describe()
    return "retryable"


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_ten_processes_at_once(db_url, stores):
    with Catalog(db_url) as cat:
        cat.ingest(stores / "base", name="base")
    before = counts(db_url)

    commands = [
        *(("ingest", str(stores / name), "--name", name) for name in ("s1", "s2")),
        *(("ingest", str(stores / "twin"), "--name", "twin") for _ in range(2)),
        ("features", "compute", "-e", "1 TeV", "--store", "base", "-F", "edisp-res", "-F", "psf-radius",
         "--workers", "1", "--format", "csv"),
        ("group", "cluster", "--name", "irf", "-F", "edisp-res", "-F", "psf-radius", "-e", "1 TeV", "-k", "3",
         "--store", "base", "--workers", "1"),
        ("group", "split", "zen_pnt_deg", "--name", "zenith", "--store", "base"),
        ("stores", "--format", "csv"),
        ("obs", "list", "--store", "base", "--format", "csv"),
        ("groups", "list", "--format", "csv"),
    ]  # fmt: skip
    start = time.perf_counter()
    procs = [Obscat(command, db_url) for command in commands]
    for proc in procs:
        proc.wait(180)
    wall = time.perf_counter() - start
    outcomes = [_check_output(proc) for proc in procs]

    # what each successful process reported, against the rows
    after = counts(db_url)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        per_store = {name: (n_obs, n_hdu, n_files) for name, n_obs, n_hdu, n_files in conn.execute(sa.text(
            "SELECT s.name, (SELECT count(*) FROM observation o WHERE o.store_id = s.id), "
            "(SELECT count(*) FROM hdu h JOIN observation o ON o.id = h.observation_id WHERE o.store_id = s.id), "
            "(SELECT count(*) FROM hdu_file f WHERE f.store_id = s.id) FROM data_store s"))}  # fmt: skip
        members = dict(conn.execute(sa.text(
            "SELECT g.name, count(*) FROM group_member m JOIN grouping g ON g.id = m.grouping_id GROUP BY g.name")).all())
        values = dict(conn.execute(sa.text(
            "SELECT s.name, count(*) FROM feature_value v JOIN feature_set s ON s.id = v.feature_set_id GROUP BY s.name")).all())
    engine.dispose()

    expected_obs = before["observation"]
    statuses = {}
    for proc, outcome in zip(procs, outcomes):
        if outcome != "ok":
            continue
        if proc.args[0] == "ingest":
            name = proc.args[3]
            found = re.search(rf"store '{name}' (created|updated): (\d+) observations, (\d+) HDUs in (\d+) files",
                              proc.stdout) or re.search(rf"store '{name}' is (unchanged) \((\d+) observations\)", proc.stdout)  # fmt: skip
            assert found, proc.describe()
            statuses.setdefault(name, []).append(found.group(1))
            assert int(found.group(2)) == per_store[name][0] == N_OBS
            if found.group(1) != "unchanged":
                assert (int(found.group(3)), int(found.group(4))) == per_store[name][1:] == (N_OBS * HDUS_PER_OBS, N_FILES)
        elif proc.args[:2] == ("features", "compute"):
            found = re.search(r"feature set (fs-\w+): (\d+) observations", proc.stderr)
            assert found and int(found.group(2)) == N_OBS, proc.describe()
            assert len(_csv(proc.stdout)) == N_OBS
            assert values[found.group(1)] == 2 * N_OBS  # two features, none duplicated
        elif proc.args[0] == "group":
            found = re.search(r"grouping '(\w+)': (\d+) observations in (\d+) groups", proc.stderr)
            assert found and int(found.group(2)) == members[found.group(1)] == N_OBS, proc.describe()
        elif proc.args[0] == "stores":  # a reader sees every store whole or not at all
            for row in _csv(proc.stdout):
                assert (int(row["n_obs"]), int(row["n_hdu"]), int(row["n_files"])) == (N_OBS, N_OBS * HDUS_PER_OBS, N_FILES)
        elif proc.args[0] == "obs":
            assert len(_csv(proc.stdout)) == N_OBS
        elif proc.args[0] == "groups":
            for row in _csv(proc.stdout):
                assert int(row["n_obs"]) == N_OBS, row
    for name in ("s1", "s2", "twin"):
        if name in statuses:
            expected_obs += N_OBS
    # the same new name ingested twice at once: one created it, the other found it
    # unchanged (or, retryable, failed); never two stores or twice the rows
    assert statuses.get("twin", ["created"]).count("created") == 1 and set(statuses["twin"]) <= {"created", "unchanged"}
    assert after["observation"] == expected_obs
    assert after["hdu"] == expected_obs * HDUS_PER_OBS
    assert after["data_store"] == 1 + len(statuses)
    assert integrity_problems(db_url) == []
    n_retryable = outcomes.count("retryable")
    record("concurrency", backend=sa.make_url(db_url).get_backend_name(), processes=len(procs),
           succeeded=outcomes.count("ok"), retryable_failures=n_retryable, rows_lost=0, rows_duplicated=0,
           twin_statuses=statuses.get("twin"), twin_seen_inside_transaction=sum(
               "ingested store 'twin' at the same time" in proc.stderr for proc in procs), wall_s=round(wall, 2))  # fmt: skip


@contextlib.contextmanager
def writer_lock_held(url: str):
    """Hold the lock obscat's writers queue on, as a writer in its transaction does:
    SQLite's write lock (``BEGIN IMMEDIATE``), PostgreSQL's advisory lock of the schema.
    Yields ``execute(sql)`` in that transaction, committed at the end."""
    from obscat.store.engine import _WRITER_LOCK

    if backend(url) == "sqlite":
        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield lambda sql: conn.execute(sql)
        finally:
            conn.execute("COMMIT")
            conn.close()
        return
    engine = sa.create_engine(url)
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(), '')))"),
                     {"key": _WRITER_LOCK})  # fmt: skip
        yield lambda sql: conn.execute(sa.text(sql))
    engine.dispose()


#: clock_nanosleep, where SQLite's busy handler waits for the lock (Linux syscall numbers)
_SLEEP_SYSCALL = {"x86_64": "230", "aarch64": "115"}


def wait_until_queued(procs: list[Obscat], url: str, timeout: float = 60) -> None:
    """Until every process waits for the writer lock: on PostgreSQL its backend waits for
    the advisory lock; on SQLite it sleeps in the busy handler (seen in /proc)."""
    waiting: set[int] = set()
    engine = sa.create_engine(url) if backend(url) == "postgresql" else None
    deadline = time.perf_counter() + timeout
    try:
        while len(waiting) < len(procs):
            assert time.perf_counter() < deadline, "the processes never queued for the writer lock"
            for i, proc in enumerate(procs):
                assert proc.running(), proc.describe()
                if engine is not None:
                    with engine.connect() as conn:
                        if conn.execute(sa.text(
                                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE "
                                "l.locktype = 'advisory' AND NOT l.granted AND a.application_name = :app"),
                                {"app": proc.app}).scalar_one():  # fmt: skip
                            waiting.add(i)
                elif platform.system() != "Linux" or platform.machine() not in _SLEEP_SYSCALL:
                    time.sleep(10)  # no /proc to watch: time enough to start, read and queue
                    waiting.add(i)
                else:
                    with contextlib.suppress(OSError):
                        call = Path(f"/proc/{proc.proc.pid}/syscall").read_text().split()[0]
                        if call == _SLEEP_SYSCALL[platform.machine()]:
                            waiting.add(i)
            time.sleep(0.005)
    finally:
        if engine is not None:
            engine.dispose()


def test_same_new_store_from_two_processes_queued_together(db_url, stores):
    """The race made certain: two ingests of one new store name both look it up (absent),
    read the files and queue for the writer lock, then write one after the other. The
    first creates the store, the second sees it inside its transaction: unchanged."""
    Catalog(db_url).close()
    with writer_lock_held(db_url):
        procs = [Obscat(("ingest", str(stores / "twin"), "--name", "twin"), db_url) for _ in range(2)]
        wait_until_queued(procs, db_url)
    for proc in procs:
        assert proc.wait(120).returncode == 0, proc.describe()
        assert _check_output(proc) == "ok"
    created = [p for p in procs if f"store 'twin' created: {N_OBS} observations" in p.stdout]
    found = [p for p in procs if f"store 'twin' is unchanged ({N_OBS} observations)" in p.stdout]
    assert len(created) == 1 and len(found) == 1, [p.stdout for p in procs]
    for proc in found:
        assert "Warning: another obscat process ingested store 'twin' at the same time" in proc.stderr
    assert counts(db_url)["observation"] == N_OBS and counts(db_url)["hdu"] == N_OBS * HDUS_PER_OBS
    assert integrity_problems(db_url) == []


def test_a_writer_kept_waiting_too_long_is_told_to_retry(db_url, stores, monkeypatch):
    """Past the busy timeout a writer gives up with one line saying to retry (SQLite's
    "database is locked", PostgreSQL's lock timeout, never shown raw); readers are not
    kept waiting, and nothing is written."""
    from typer.testing import CliRunner

    from obscat.cli.app import app
    from obscat.store import engine

    with Catalog(db_url) as cat:
        cat.ingest(stores / "base", name="base")
    before = counts(db_url)
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_S", 0.5)
    with writer_lock_held(db_url):
        start = time.perf_counter()
        result = CliRunner().invoke(app, ["--db", db_url, "group", "split", "zen_pnt_deg", "--name", "z"])
        waited = time.perf_counter() - start
        assert result.exit_code == 1, result.output
        assert result.stderr == ("Error: the catalogue is busy: another obscat process is writing (waited 0.5 s); "
                                 "retry\n")  # fmt: skip
        assert 0.5 <= waited < 10
        reader = CliRunner().invoke(app, ["--db", db_url, "stores", "--format", "csv"])
        assert reader.exit_code == 0 and "base," in reader.stdout
    assert counts(db_url) == before


def test_new_catalogue_from_three_processes_at_once(db_url):
    """Three processes open a catalogue that does not exist yet: one creates the schema,
    the others wait for it or find it; all succeed."""
    procs = [Obscat(("stores", "--format", "csv"), db_url) for _ in range(3)]
    for proc in procs:
        assert proc.wait(120).returncode == 0, proc.describe()
        assert _check_output(proc) == "ok" and proc.stdout.startswith("name,n_obs")
    assert integrity_problems(db_url) == []


def test_store_removed_while_features_and_a_grouping_wait_to_write(db_url, stores):
    """A feature computation and a split read their observations, then queue for the writer
    lock; meanwhile the store is removed. Their writes would refer to removed rows: each
    fails with one line saying to retry, and writes nothing."""
    with Catalog(db_url) as cat:
        cat.ingest(stores / "base", name="base")
    with writer_lock_held(db_url) as execute:
        procs = [Obscat(("features", "compute", "-e", "1 TeV", "--store", "base", "-F", "aeff", "--workers", "1"),
                        db_url), Obscat(("group", "split", "zen_pnt_deg", "--name", "z", "--store", "base"), db_url)]
        wait_until_queued(procs, db_url)
        execute("DELETE FROM data_store WHERE name = 'base'")
    for proc in procs:
        proc.wait(120)
        assert _check_output(proc) == "retryable"
        # the writer re-checks, inside its transaction, that the observations it read still exist
        assert proc.stderr.splitlines()[-1] == ("Error: 300 of the selected observations were removed or replaced by "
                                                "another obscat process meanwhile; nothing was written: retry")  # fmt: skip
    assert {t: n for t, n in counts(db_url).items() if n and t != "alembic_version"} == {}
    assert integrity_problems(db_url) == []
