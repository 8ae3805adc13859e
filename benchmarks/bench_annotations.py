"""Annotation storage at 10^6 observations x 40 columns, on SQLite and PostgreSQL.

    python benchmarks/bench_annotations.py [--n 1000000] [--columns 40] [--queries 21] [--skip-raw] [--skip-obscat]

Raw SQL first, to choose the layout (docs/annotations.md, "Storage"):

* ``wide``: one table per annotation-set version, created at ingest: ``observation_id`` as
  primary key, one typed column per annotation column, an index per column;
* ``long``: one static table ``(set_id, observation_id, column_id, num_value, text_value)``
  with its primary key and an index on ``(set_id, column_id, num_value)``.

Ingest is timed from rows in memory to committed and indexed; the filter is ``count(*)`` of the
observations one numeric column keeps (about 1 % of them: ``c0 > 0.99``), through the
observation table, as a selection runs it. Then obscat's own ``Catalog.annotate`` (an ECSV
file of the same shape) and a ``select`` with ``--where dq.c0 > 0.99`` (count of the rows kept).
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
from harness import save

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DB = "obscat_bench_annotations"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
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

    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
        admin.execute(f"CREATE DATABASE {PG_DB}")
    conn = psycopg.connect(PG_URL.replace("+psycopg", ""))
    conn.execute("CREATE TABLE observation (id INTEGER PRIMARY KEY, obs_id INTEGER)")
    conn.execute("INSERT INTO observation SELECT i, i FROM generate_series(1, %s) i", (n,))
    conn.commit()
    return conn


def _copy(conn, table: str, names: list[str], arrays: list[np.ndarray]) -> None:
    """COPY arrays as tab-separated text, a column at a time turned into text by numpy."""
    text = [a.astype(str) if a.dtype.kind != "O" else a for a in arrays]
    buffer = io.StringIO()
    lines = np.char.add(text[0].astype(str), "")
    for column in text[1:]:
        lines = np.char.add(np.char.add(lines, "\t"), column.astype(str))
    buffer.write("\n".join(lines.tolist()))
    buffer.write("\n")
    with conn.cursor().copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())


def pg_wide(conn, data: dict[str, np.ndarray]) -> float:
    n = len(next(iter(data.values())))
    start = time.perf_counter()
    defs = ", ".join(f"{c} {_sql_type(v, True)}" for c, v in data.items())
    conn.execute(f"CREATE TABLE wide (observation_id INTEGER PRIMARY KEY REFERENCES observation(id), {defs})")
    _copy(conn, "wide", ["observation_id", *data], [np.arange(1, n + 1), *data.values()])
    for c in data:
        conn.execute(f"CREATE INDEX ix_wide_{c} ON wide ({c})")
    conn.execute("ANALYZE wide")
    conn.commit()
    return time.perf_counter() - start


def pg_long(conn, data: dict[str, np.ndarray]) -> float:
    n = len(next(iter(data.values())))
    start = time.perf_counter()
    conn.execute("CREATE TABLE long (set_id INTEGER, observation_id INTEGER, column_id INTEGER, "
                 "num_value DOUBLE PRECISION, text_value TEXT, PRIMARY KEY (set_id, observation_id, column_id))")  # fmt: skip
    ids = np.arange(1, n + 1)
    for j, values in enumerate(data.values()):
        text = values.dtype.kind == "O"
        null = np.full(n, "\\N", dtype=object)
        _copy(conn, "long", ["set_id", "observation_id", "column_id", "num_value", "text_value"],
              [np.ones(n, int), ids, np.full(n, j), null if text else values, values if text else null])  # fmt: skip
    conn.execute("CREATE INDEX ix_long_value ON long (set_id, column_id, num_value)")
    conn.execute("ANALYZE long")
    conn.commit()
    return time.perf_counter() - start


# -- filters ----------------------------------------------------------------------------------

WIDE_FILTER = "SELECT count(*) FROM observation WHERE id IN (SELECT observation_id FROM wide WHERE c0 > {x})"
LONG_FILTER = ("SELECT count(*) FROM observation WHERE id IN (SELECT observation_id FROM long WHERE set_id = 1 "
               "AND column_id = 0 AND num_value > {x})")  # fmt: skip


def filter_times(execute, sql: str, queries: int) -> tuple[float, int]:
    """Median seconds of ``queries`` runs of ``sql`` at thresholds 0.985 .. 0.995 (about 1 %)."""
    seconds, count = [], 0
    for k in range(queries):
        x = 0.985 + 0.01 * k / max(queries - 1, 1)
        start = time.perf_counter()
        count = execute(sql.format(x=x))
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), count


def raw(args, data) -> dict:
    results: dict = {}
    db = sqlite_database(args.work_dir / "annotations-raw.db", args.n)
    sqlite_execute = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    for layout, ingest, sql in (("wide", sqlite_wide, WIDE_FILTER), ("long", sqlite_long, LONG_FILTER)):
        seconds = ingest(db, data)
        median, count = filter_times(sqlite_execute, sql, args.queries)
        results[f"SQLite {layout}"] = {"ingest_s": seconds, "filter_median_s": median, "kept": count}
        print(f"SQLite     {layout:<5} ingest {seconds:7.1f} s   filter p50 {median * 1e3:7.2f} ms ({count} kept)", flush=True)
    db.close()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=40)
    parser.add_argument("--queries", type=int, default=21)
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--skip-obscat", action="store_true")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    data = columns(args.columns, args.n)
    payload: dict = {"n": args.n, "columns": args.columns}
    if not args.skip_raw:
        payload["raw"] = raw(args, data)
    save("annotations", payload)


if __name__ == "__main__":
    sys.exit(main())
