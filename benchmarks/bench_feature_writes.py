"""Feature-value writes at 10^6 observations x 3 features, on SQLite and PostgreSQL.

    python benchmarks/bench_feature_writes.py [--n 1000000] [--repeat 3] [--backends sqlite,postgresql]

The rows are made in memory beforehand, as the evaluation returns them (chunks of 200 observations,
3 rows each, one IRF file per observation), and written through the path ``compute_features``
takes: ``_write_batches`` (batches of ``WRITE_BATCH`` observations, each its own transaction) and
``write_values`` (the observation-unchanged check, the set's row, the replace of the values, the
file versions). Two cases, alternating: ``empty`` (the set holds nothing: the tables are emptied
before, untimed) and ``rewrite`` (the same values again over a full set: the idempotent replace).
Each step of ``write_values`` is timed by wrapping it; "commit" is the rest of the time (the commit,
its WAL flush, and the batching). Index maintenance is estimated once per backend: the values of a
full write inserted (COPY / executemany, in one transaction rolled back) with and without
``feature_value``'s secondary index.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_annotations import catalogue
from harness import pg_database, save

PG_DB = "obscat_bench_feature_writes"
FEATURES = ("edisp-bias", "edisp-res", "psf-radius")
#: The steps of write_values timed (those the module has: the names changed with the write path).
STEPS = ("check_observations_unchanged", "feature_set_row", "delete_values", "bulk_insert", "record_uses")


def fresh_url(label: str, work_dir: Path, pg_name: str = PG_DB) -> str:
    if label == "SQLite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work_dir / 'feature-writes.db'}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{work_dir / 'feature-writes.db'}"
    return pg_database(pg_name, fresh=True)


def evaluation(engine, n: int):
    """``(chunks, versions)``: ``(tasks, rows)`` per chunk of 200 observations as the executors yield
    them, and the versions of the observations' files (one file each)."""
    import sqlalchemy as sa

    from obscat.compute.feature_tasks import Task
    from obscat.store.models import Observation

    o = Observation.__table__
    with engine.connect() as conn:
        ids = conn.execute(sa.select(o.c.id, o.c.obs_id).order_by(o.c.id)).all()
    tasks = [Task(i, obs, {"aeff": ("aeff_2d", f"/data/run{obs:07d}.fits.gz", "AEFF")}) for i, obs in ids[:n]]
    versions = {t.hdus["aeff"][1]: (2_000_000 + k, 1_700_000_000_000_000_000 + k, k) for k, t in enumerate(tasks)}
    chunks = []
    for lo in range(0, len(tasks), 200):
        chunk = tasks[lo:lo + 200]
        rows = [(t.observation_id, f, 0.001 * (t.observation_id % 1000), "deg" if f == "psf-radius" else "", None, 0.5)
                for t in chunk for f in FEATURES]  # fmt: skip
        chunks.append((chunk, rows))
    return chunks, versions


@contextlib.contextmanager
def timing_steps(seconds: dict[str, float]):
    """Wrap the steps of ``write_values`` that exist, adding their time to ``seconds``."""
    from obscat.compute import feature_store

    saved = {name: getattr(feature_store, name) for name in STEPS if hasattr(feature_store, name)}

    def wrap(name, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - start

        return timed

    for name, function in saved.items():
        setattr(feature_store, name, wrap(name, function))
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(feature_store, name, function)


def empty_tables(engine) -> None:
    """Remove every feature set, value and file use (untimed); PostgreSQL vacuums after."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("TRUNCATE feature_value, file_use, feature_set CASCADE")
        else:
            for table in ("feature_value", "file_use", "feature_set"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
    vacuum(engine)


def vacuum(engine) -> None:
    """As autovacuum leaves the tables between runs (PostgreSQL; SQLite: a WAL checkpoint)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM ANALYZE feature_value")
            conn.exec_driver_sql("VACUUM ANALYZE file_use")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def write(engine, params, chunks, versions) -> tuple[float, dict[str, float]]:
    from obscat.compute.features import _write_batches

    seconds: dict[str, float] = defaultdict(float)
    with timing_steps(seconds):
        start = time.perf_counter()
        _write_batches(engine, params, iter(chunks), versions)
        total = time.perf_counter() - start
    seconds["commit and rest"] = total - sum(seconds.values())
    return total, dict(seconds)


def index_share(engine, chunks) -> dict[str, float]:
    """Seconds to insert all values (one transaction, rolled back) with and without the
    secondary index of ``feature_value``."""
    from obscat.store.engine import write_transaction
    from obscat.store.models import FeatureSet, FeatureValue
    from obscat.store.rows import bulk_insert

    table = FeatureValue.__table__
    out = {}
    for label in ("with index", "without"):
        try:
            with write_transaction(engine) as conn:
                set_id = conn.execute(FeatureSet.__table__.insert().values(
                    name="x", params={}, params_sha256="x", energy_true_tev=1.0, containment_fraction=0.68,
                    aeff_threshold_fraction=0.1, created_at=dt.datetime.now(dt.UTC),
                    obscat_version="bench").returning(FeatureSet.__table__.c.id)).scalar_one()  # fmt: skip
                if label == "without":
                    for index in table.indexes:
                        index.drop(conn)
                start = time.perf_counter()
                bulk_insert(conn, table, ["feature_set_id", "observation_id", "feature", "value", "unit", "null_reason",
                                          "offset_deg"], ((set_id, *row) for _, rows in chunks for row in rows))  # fmt: skip
                out[label] = time.perf_counter() - start
                raise _Rollback
        except _Rollback:
            pass
    return out


class _Rollback(Exception):
    pass


def run(label: str, args) -> dict:
    from obscat.compute.features import feature_params

    catalog = catalogue(fresh_url(label, args.work_dir, args.pg_database), args.n)
    engine = catalog.engine
    params = feature_params("1 TeV", features=list(FEATURES))
    chunks, versions = evaluation(engine, args.n)
    n_values = sum(len(rows) for _, rows in chunks)
    results: dict[str, list] = {"empty": [], "rewrite": []}
    for k in range(args.repeat):
        empty_tables(engine)
        results["empty"].append(write(engine, params, chunks, versions))
        vacuum(engine)
        results["rewrite"].append(write(engine, params, chunks, versions))
        for case in ("empty", "rewrite"):
            total, steps = results[case][-1]
            print(f"{label:<10} {case:<8} run {k + 1}: {total:6.2f} s  "
                  + "  ".join(f"{name} {s:.2f}" for name, s in steps.items()), flush=True)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM feature_value").scalar_one()
        uses = conn.exec_driver_sql("SELECT count(*) FROM file_use").scalar_one()
    assert (stored, uses) == (n_values, args.n), (stored, uses)  # the rewrite left one copy
    out = {"values": n_values}
    for case, runs in results.items():
        median = statistics.median(total for total, _ in runs)
        steps = {name: statistics.median(s[name] for _, s in runs) for name in runs[0][1]}
        out[case] = {"median_s": median, "runs_s": [total for total, _ in runs], "rows_per_s": n_values / median,
                     "steps_median_s": steps}  # fmt: skip
        print(f"{label:<10} {case:<8} median {median:6.2f} s ({n_values / median:,.0f} values/s)  "
              + "  ".join(f"{name} {s:.2f}" for name, s in steps.items()), flush=True)
    empty_tables(engine)
    out["index"] = index_share(engine, chunks)
    print(f"{label:<10} insert of all values: {out['index']['with index']:.2f} s with feature_value's secondary "
          f"index, {out['index']['without']:.2f} s without", flush=True)
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", type=lambda text: text.split(","), default=["sqlite", "postgresql"])
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    parser.add_argument("--save", default="bench_feature_writes")
    parser.add_argument("--pg-database", default=PG_DB)
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = {label: run(label, args) for label in ("SQLite", "PostgreSQL") if label.lower() in args.backends}
    save(args.save, {"n": args.n, "repeat": args.repeat, "results": results})


if __name__ == "__main__":
    main()
