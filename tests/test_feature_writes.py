"""The write path of feature values (issue #12 item 3), on SQLite and PostgreSQL: a batch written
twice leaves one copy, and a long feature computation on one store lets writers on another store
in between its batches, within the busy timeout."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from obscat import Catalog
from obscat.compute import feature_store, features
from obscat.compute.feature_params import feature_params
from obscat.compute.feature_tasks import Task
from obscat.errors import DatabaseError
from obscat.store import engine as engine_module
from obscat.store import ingest as ingest_module
from obscat.store.engine import write_transaction

N_A, N_B = 12, 8


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from obscat.gadf.synthetic import make_data_store

    root = tmp_path_factory.mktemp("write-stores")
    make_data_store(root / "a", N_A, seed=1, n_files=3)
    make_data_store(root / "b", N_B, seed=2, n_files=2)
    return root


def _rows(conn, table: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2, 3")).all()]


def test_a_batch_written_twice_leaves_one_copy(db_url, stores):
    """write_values replaces what the set held for the batch's observations (values and file
    versions), leaves the set's other observations alone, and refuses a batch whose observation
    was replaced meanwhile, writing nothing."""
    with Catalog(db_url) as cat:
        cat.ingest(stores / "a", name="a")
        with cat.engine.connect() as conn:
            ids = conn.execute(sa.text("SELECT id, obs_id FROM observation ORDER BY id")).all()
        params = feature_params("1 TeV", features=["aeff", "edisp-bias"])
        tasks = [Task(i, obs, {"aeff": ("aeff_2d", f"/f{obs}.fits", "AEFF")}) for i, obs in ids]
        versions = {f"/f{obs}.fits": (100 + obs, 10**18 + obs, obs) for _, obs in ids}

        def rows(value):
            return [(t.observation_id, f, value, "m2", None, 0.5) for t in tasks for f in params.features]

        with write_transaction(cat.engine) as conn:
            set_id = feature_store.write_values(conn, params, tasks, rows(1.0), versions)[0]
        with write_transaction(cat.engine) as conn:  # the same batch again, then part of it with new values
            feature_store.write_values(conn, params, tasks, rows(1.0), versions)
        with write_transaction(cat.engine) as conn:
            feature_store.write_values(conn, params, tasks[:3], rows(2.0)[:6], versions)
        with cat.engine.connect() as conn:
            values = _rows(conn, "feature_value")
            uses = conn.execute(sa.text("SELECT observation_id, feature_set_id, path, size_bytes FROM file_use "
                                        "ORDER BY observation_id")).all()  # fmt: skip
        assert len(values) == 2 * N_A
        assert [(v[0], v[1], v[2], v[3]) for v in values[:8]] == [
            (set_id, ids[k][0], f, 2.0 if k < 3 else 1.0) for k in range(4) for f in ("aeff", "edisp-bias")]
        assert [tuple(u) for u in uses] == [(i, set_id, f"/f{obs}.fits", 100 + obs) for i, obs in ids]

        moved = [Task(ids[0][0], ids[0][1] + 1000, tasks[0].hdus)]  # as if the observation were replaced
        with pytest.raises(DatabaseError) as error, write_transaction(cat.engine) as conn:
            feature_store.write_values(conn, params, moved + tasks[1:2], rows(3.0)[:4], versions)
        assert str(error.value) == ("1 of the selected observations were removed or replaced by another obscat "
                                    "process meanwhile; nothing was written: retry")  # fmt: skip
        with cat.engine.connect() as conn:
            assert _rows(conn, "feature_value") == values


def test_writers_on_another_store_get_in_between_feature_batches(db_url, stores, monkeypatch):
    """While a feature computation of store ``a`` is inside a batch write, an ingest of store
    ``b`` waits; it gets in once that batch commits (each batch is its own short transaction), well
    within the busy timeout, while the computation is still running: the computation's next batch
    waits for the ingest to finish, which would deadlock until the timeout if the computation held
    one transaction. On PostgreSQL the batch takes no lock on a table stronger than ROW EXCLUSIVE
    (readers and row writers of every table pass)."""
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_S", 20.0)
    monkeypatch.setattr(features, "WRITE_BATCH", 1)
    with Catalog(db_url) as cat:
        cat.ingest(stores / "a", name="a")
    inside, release, ingested = threading.Event(), threading.Event(), threading.Event()
    locks: list[tuple[str, str]] = []
    real_write, real_evaluate = features.write_values, features._evaluate_all

    def write_values(conn, *args):
        out = real_write(conn, *args)
        if not inside.is_set():  # the first batch: hold its transaction open
            if conn.dialect.name == "postgresql":
                locks.extend(conn.execute(sa.text(
                    "SELECT relation::regclass::text, mode FROM pg_locks WHERE pid = pg_backend_pid() "
                    "AND locktype = 'relation'")).all())  # fmt: skip
            inside.set()
            assert release.wait(60)
        return out

    def evaluate_all(tasks, *args):
        """The chunks one observation each; the second waits until the ingest of ``b`` is done."""
        for k, task in enumerate(sorted(tasks, key=lambda t: t.observation_id)):
            if k == 1:
                assert ingested.wait(60)
            yield from real_evaluate([task], *args)

    monkeypatch.setattr(features, "write_values", write_values)
    monkeypatch.setattr(features, "_evaluate_all", evaluate_all)
    outcome: dict[str, object] = {}

    def compute():
        with Catalog(db_url) as cat:
            outcome["a"] = len(cat.compute_features("1 TeV", features=["aeff", "edisp-bias"], store="a", workers=1))

    computing = threading.Thread(target=compute)
    computing.start()
    assert inside.wait(60)
    waiting: list[float] = []

    def queued_write(engine, **options):
        if not waiting:  # the ingest's write: it queues behind the feature batch, which then commits
            waiting.append(time.perf_counter())
            release.set()
        return write_transaction(engine, **options)

    monkeypatch.setattr(ingest_module, "write_transaction", queued_write)
    with Catalog(db_url) as cat_b:
        report = cat_b.ingest(stores / "b", name="b")
    waited = time.perf_counter() - waiting[0]
    ingested.set()
    computing.join(120)
    assert not computing.is_alive()
    assert report.n_obs == N_B and waited < engine_module.BUSY_TIMEOUT_S
    assert outcome["a"] == N_A
    with Catalog(db_url) as cat:
        with cat.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM feature_value")).scalar_one() == 2 * N_A
            assert conn.execute(sa.text("SELECT count(*) FROM file_use WHERE feature_set_id IS NOT NULL")).scalar_one() \
                == N_A  # fmt: skip
    if db_url.startswith("postgresql"):
        assert {table for table, _ in locks} >= {"feature_value", "file_use", "observation"}
        assert {mode for _, mode in locks} <= {"AccessShareLock", "RowShareLock", "RowExclusiveLock"}, locks
