"""Annotation storage at 10^6 observations x 40 columns, on SQLite and PostgreSQL.

    python benchmarks/bench_annotations.py [--n 1000000] [--columns 40] [--queries 21] [--skip-raw] [--skip-obscat]
                                           [--backends sqlite,postgresql]

Raw SQL first, to choose the layout (docs/annotations.md, "Storage"):

* ``wide``: one table per annotation-set version, created at ingest: ``observation_id`` as
  primary key, one typed column per annotation column, an index per column;
* ``long``: one static table ``(set_id, observation_id, column_id, num_value, text_value)``
  with its primary key and an index on ``(set_id, column_id, num_value)``.

Ingest is timed from rows in memory to committed and indexed (SQLite from numpy arrays, their
conversion to Python values included; PostgreSQL from COPY text made beforehand); the filter is ``count(*)`` of the
observations one numeric column keeps (about 1 % of them: ``c0 > 0.99``; 0.5-1.5 % over the runs), through the
observation table, as a selection runs it. Then obscat's own ``Catalog.annotate`` (a FITS
file of the same shape, read included) and ``Catalog.observations(Where("dq.c0 > x"))`` keeping
about 1 % and 0.1 % of the observations (their store and OBS_ID returned as a Table).
Medians of ``--queries`` runs.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import pg_database, save

PG_DB = "obscat_bench_annotations"
N_TEXT, N_MASK = 4, 4  # of the columns: text, integer masks; the rest are numbers


def columns(n_columns: int, n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """``c0 .. c<n-1>``: uniform numbers in [0, 1), then integer masks, then short texts."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    n_num = n_columns - N_TEXT - N_MASK
    for i in range(n_columns):
        if i < n_num:
            out[f"c{i}"] = rng.random(n)
        elif i < n_num + N_MASK:
            out[f"c{i}"] = rng.integers(0, 256, n)
        else:
            out[f"c{i}"] = np.array(["A+", "A", "B", "C", "D", "F"], dtype=object)[rng.integers(0, 6, n)]
    return out


def _sql_type(values: np.ndarray, postgres: bool) -> str:
    if values.dtype.kind == "f":
        return "DOUBLE PRECISION" if postgres else "REAL"
    return ("BIGINT" if postgres else "INTEGER") if values.dtype.kind == "i" else "TEXT"


# -- raw SQLite -----------------------------------------------------------------------------


def sqlite_database(path: Path, n: int):
    import sqlite3

    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE observation (id INTEGER PRIMARY KEY, obs_id INTEGER)")
    db.executemany("INSERT INTO observation VALUES (?, ?)", ((i, i) for i in range(1, n + 1)))
    db.commit()
    return db


def sqlite_wide(db, data: dict[str, np.ndarray]) -> float:
    n = len(next(iter(data.values())))
    start = time.perf_counter()
    defs = ", ".join(f"{c} {_sql_type(v, False)}" for c, v in data.items())
    db.execute(f"CREATE TABLE wide (observation_id INTEGER PRIMARY KEY REFERENCES observation(id), {defs})")
    rows = zip(range(1, n + 1), *(v.tolist() for v in data.values()))
    db.executemany(f"INSERT INTO wide VALUES ({', '.join('?' * (len(data) + 1))})", rows)
    for c in data:
        db.execute(f"CREATE INDEX ix_wide_{c} ON wide ({c})")
    db.commit()
    return time.perf_counter() - start


def sqlite_long(db, data: dict[str, np.ndarray]) -> float:
    n = len(next(iter(data.values())))
    start = time.perf_counter()
    db.execute("CREATE TABLE long (set_id INTEGER, observation_id INTEGER, column_id INTEGER, num_value REAL, "
               "text_value TEXT, PRIMARY KEY (set_id, observation_id, column_id)) WITHOUT ROWID")  # fmt: skip
    for j, values in enumerate(data.values()):
        text = values.dtype.kind == "O"
        rows = zip(range(1, n + 1), values.tolist())
        db.executemany("INSERT INTO long VALUES (1, ?, ?, ?, ?)",
                       ((i, j, None, v) if text else (i, j, v, None) for i, v in rows))  # fmt: skip
    db.execute("CREATE INDEX ix_long_value ON long (set_id, column_id, num_value)")
    db.commit()
    return time.perf_counter() - start


# -- raw PostgreSQL ---------------------------------------------------------------------------


def pg_connection(n: int):
    import psycopg

    conn = psycopg.connect(pg_database(PG_DB, fresh=True).replace("+psycopg", ""))
    conn.execute("CREATE TABLE observation (id INTEGER PRIMARY KEY, obs_id INTEGER)")
    conn.execute("INSERT INTO observation SELECT i, i FROM generate_series(1, %s) i", (n,))
    conn.execute("ANALYZE observation")  # as autovacuum leaves a catalogue
    conn.commit()
    return conn


def _copy_text(arrays: list[np.ndarray]) -> str:
    """Rows as COPY's tab-separated text (``\\N`` for NULL), made before the clock starts: the
    client's serialisation is the same whatever the layout."""
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\x01").writerows(
        zip(*(a.tolist() for a in arrays))
    )
    return buffer.getvalue()


def _copy(conn, table: str, names: list[str], text: str) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        copy.write(text)


def pg_wide(conn, data: dict[str, np.ndarray]) -> float:
    n = len(next(iter(data.values())))
    text = _copy_text([np.arange(1, n + 1), *data.values()])
    start = time.perf_counter()
    defs = ", ".join(f"{c} {_sql_type(v, True)}" for c, v in data.items())
    conn.execute(f"CREATE TABLE wide (observation_id INTEGER PRIMARY KEY REFERENCES observation(id), {defs})")
    _copy(conn, "wide", ["observation_id", *data], text)
    for c in data:
        conn.execute(f"CREATE INDEX ix_wide_{c} ON wide ({c})")
    conn.execute("ANALYZE wide")
    conn.commit()
    return time.perf_counter() - start


def pg_long(conn, data: dict[str, np.ndarray]) -> float:
    n = len(next(iter(data.values())))
    conn.execute("CREATE TABLE long (set_id INTEGER, observation_id INTEGER, column_id INTEGER, "
                 "num_value DOUBLE PRECISION, text_value TEXT, PRIMARY KEY (set_id, observation_id, column_id))")  # fmt: skip
    ids, null = np.arange(1, n + 1), np.full(n, "\\N", dtype=object)
    seconds = 0.0
    for j, values in enumerate(data.values()):
        text = values.dtype.kind == "O"
        rows = _copy_text([np.ones(n, int), ids, np.full(n, j), null if text else values, values if text else null])
        start = time.perf_counter()
        _copy(conn, "long", ["set_id", "observation_id", "column_id", "num_value", "text_value"], rows)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    conn.execute("CREATE INDEX ix_long_value ON long (set_id, column_id, num_value)")
    conn.execute("ANALYZE long")
    conn.commit()
    return seconds + time.perf_counter() - start


# -- filters ----------------------------------------------------------------------------------

WIDE_FILTER = "SELECT count(*) FROM observation WHERE id IN (SELECT observation_id FROM wide WHERE c0 > {x})"
LONG_FILTER = ("SELECT count(*) FROM observation WHERE id IN (SELECT observation_id FROM long WHERE set_id = 1 "
               "AND column_id = 0 AND num_value > {x})")  # fmt: skip


def filter_times(execute, sql: str, queries: int, fraction: float = 0.01) -> tuple[float, int]:
    """Median seconds of ``queries`` runs of ``sql`` at thresholds keeping 1.5 .. 0.5 times
    ``fraction`` of the rows, and the median count kept."""
    seconds, counts = [], []
    for k in range(queries):
        x = 1 - fraction * (1.5 - k / max(queries - 1, 1))
        start = time.perf_counter()
        counts.append(execute(sql.format(x=x)))
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), int(statistics.median(counts))


def raw(args, data) -> dict:
    results: dict = {}
    if "sqlite" in args.backends:
        results.update(raw_sqlite(args, data))
    if "postgresql" in args.backends:
        results.update(raw_postgresql(args, data))
    return results


def raw_sqlite(args, data) -> dict:
    results: dict = {}
    db = sqlite_database(args.work_dir / "annotations-raw.db", args.n)
    sqlite_execute = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    for layout, ingest, sql in (("wide", sqlite_wide, WIDE_FILTER), ("long", sqlite_long, LONG_FILTER)):
        seconds = ingest(db, data)
        median, count = filter_times(sqlite_execute, sql, args.queries)
        results[f"SQLite {layout}"] = {"ingest_s": seconds, "filter_median_s": median, "kept": count}
        print(f"SQLite     {layout:<5} ingest {seconds:7.1f} s   filter p50 {median * 1e3:7.2f} ms ({count} kept)", flush=True)
    db.close()
    return results


def raw_postgresql(args, data) -> dict:
    results: dict = {}
    conn = pg_connection(args.n)

    def pg_execute(sql: str) -> int:
        value = conn.execute(sql).fetchone()[0]
        conn.rollback()
        return value

    for layout, ingest, sql in (("wide", pg_wide, WIDE_FILTER), ("long", pg_long, LONG_FILTER)):
        seconds = ingest(conn, data)
        median, count = filter_times(pg_execute, sql, args.queries)
        results[f"PostgreSQL {layout}"] = {"ingest_s": seconds, "filter_median_s": median, "kept": count}
        print(f"PostgreSQL {layout:<5} ingest {seconds:7.1f} s   filter p50 {median * 1e3:7.2f} ms ({count} kept)", flush=True)
    conn.close()
    return results


# -- obscat ------------------------------------------------------------------------------------


def catalogue(url: str, n: int):
    """A catalogue holding store "bench" with observations OBS_ID 1..n (rows written directly: only
    the observations' identity matters to annotations)."""
    import datetime as dt

    import sqlalchemy as sa

    from obscat import Catalog
    from obscat.store.engine import write_transaction
    from obscat.store.models import DataStore, Observation
    from obscat.store.rows import bulk_insert

    catalog = Catalog(url)
    with write_transaction(catalog.engine, bulk=True) as conn:
        store_id = conn.execute(sa.insert(DataStore.__table__).values(
            name="bench", root_path="/", obs_index_path="/obs", obs_index_sha256="0" * 64, hdu_index_path="/hdu",
            hdu_index_sha256="0" * 64, header={}, ingested_at=dt.datetime.now(dt.UTC), obscat_version="bench",
        ).returning(DataStore.__table__.c.id)).scalar_one()  # fmt: skip
        bulk_insert(conn, Observation.__table__, ["store_id", "obs_id", "extra"],
                    ((store_id, i, "{}") for i in range(1, n + 1)))  # fmt: skip
    if catalog.engine.dialect.name == "postgresql":  # as autovacuum leaves a catalogue
        with catalog.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE observation")
            conn.commit()
    return catalog


def fresh_url(label: str, work_dir: Path) -> str:
    if label == "SQLite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work_dir / 'annotations-obscat.db'}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{work_dir / 'annotations-obscat.db'}"
    return pg_database(f"{PG_DB}_obscat", fresh=True)


def obscat(args, data) -> dict:
    """``Catalog.annotate`` of a FITS file of the same columns (read included), then the
    observations ``--where dq.c0 > x`` keeps, as ``Catalog.observations`` returns them."""
    from astropy.table import Table

    from obscat.query import Where

    path = args.work_dir / f"annotations-{args.n}.fits"
    table = Table({"OBS_ID": np.arange(1, args.n + 1), **{c: v.astype(str) if v.dtype.kind == "O" else v
                                                          for c, v in data.items()}})  # fmt: skip
    table.write(path, overwrite=True)
    masks = [c for c, v in data.items() if v.dtype.kind == "i"]
    results = {}
    for label in [b for b in ("SQLite", "PostgreSQL") if b.lower() in args.backends]:
        catalog = catalogue(fresh_url(label, args.work_dir), args.n)
        start = time.perf_counter()
        catalog.annotate(path, name="dq", key="OBS_ID", masks=masks)
        ingest = time.perf_counter() - start
        results[f"obscat {label}"] = {"ingest_s": ingest}
        print(f"obscat {label:<10} annotate {ingest:7.1f} s", flush=True)
        for fraction in (0.01, 0.001):
            median, count = filter_times(lambda text, catalog=catalog: len(catalog.observations(Where(text), columns=["obs_id"])),
                                         "dq.c0 > {x}", args.queries, fraction)  # fmt: skip
            results[f"obscat {label}"][f"filter_{fraction:g}"] = {"median_s": median, "kept": count}
            print(f"obscat {label:<10} --where keeping {fraction:.1%}: p50 {median * 1e3:7.2f} ms ({count} kept, median)",
                  flush=True)  # fmt: skip
        catalog.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=40)
    parser.add_argument("--queries", type=int, default=21)
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--skip-obscat", action="store_true")
    parser.add_argument("--backends", type=lambda text: text.split(","), default=["sqlite", "postgresql"])
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    data = columns(args.columns, args.n)
    payload: dict = {"n": args.n, "columns": args.columns}
    if not args.skip_raw:
        payload["raw"] = raw(args, data)
    if not args.skip_obscat:
        payload["obscat"] = obscat(args, data)
    part = "-raw" if args.skip_obscat else "-obscat" if args.skip_raw else ""
    save(f"annotations{part}-{'-'.join(args.backends)}", payload)


if __name__ == "__main__":
    sys.exit(main())
