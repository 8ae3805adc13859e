"""Row-level helpers over a connection: bulk writes, cascading deletes, lookups by name."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import DatabaseError
from .engine import dbapi_connection, display_url

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "bulk_insert",
    "bulk_load",
    "bulk_update",
    "building_indexes",
    "check_observations_unchanged",
    "delete_cascade",
    "empty_catalog_error",
    "id_by_name",
    "id_map",
    "ids_condition",
    "param_mark",
    "refresh_statistics",
    "store_id",
]

def check_observations_unchanged(conn: Connection, observations: Iterable[tuple[int, int]]) -> None:
    """Inside a write transaction: every ``(observation.id, OBS_ID)`` read before it still
    names the same observation. (SQLite reuses the ids of deleted rows: a store removed
    and another ingested meanwhile must not receive rows meant for the first.) One query,
    whatever the number of observations."""
    expected = dict(observations)
    if not expected:
        return
    condition, ids = ids_condition(conn, "id", expected)
    found: dict[int, int] = dict(conn.exec_driver_sql(f"SELECT id, obs_id FROM observation WHERE {condition}", (ids,)).all())
    changed = sum(found.get(i) != obs_id for i, obs_id in expected.items())
    if changed:
        raise DatabaseError(f"{changed} of the selected observations were removed or replaced by another "
                            "obscat process meanwhile; nothing was written: retry")  # fmt: skip


def param_mark(conn: Connection) -> str:
    """The driver's placeholder for a parameter in SQL run with ``exec_driver_sql``."""
    return "%s" if conn.dialect.name == "postgresql" else "?"


def ids_condition(conn: Connection, column: str, ids: Iterable[int]) -> tuple[str, object]:
    """``(SQL, parameter)``: ``column`` is one of ``ids``, all of them in one parameter (an array on
    PostgreSQL, a JSON array on SQLite), so that no statement with a parameter per id is built."""
    ids = [int(i) for i in ids]
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY(%s::integer[])", ids  # the type of the id columns: an index condition
    return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(ids)


def delete_cascade(conn: Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> None:
    """Delete ``table``'s rows matching ``where`` and, first, every row that refers to
    them through an ``ON DELETE CASCADE`` foreign key, recursively: what the
    database does itself when its foreign keys are enforced."""
    for child in table.metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is table and fk.ondelete == "CASCADE":
                delete_cascade(conn, child, fk.parent.in_(sa.select(fk.column).where(where)))
    conn.execute(sa.delete(table).where(where))


def id_by_name(conn: Connection, table: sa.Table, name: str, kind: str) -> int:
    """The id of ``table``'s row named ``name``; ``NotFoundError("no {kind} named ...")`` if none."""
    from ..errors import NotFoundError

    # no row holds a NUL (PostgreSQL text cannot): not found, rather than the driver's refusal
    found = None if "\x00" in name else conn.execute(sa.select(table.c.id).where(table.c.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"no {kind} named {name!r}")
    return found


def store_id(conn: Connection, name: str) -> int:
    """The id of the store named ``name``; else :class:`NotFoundError` listing the stores
    (:class:`EmptyCatalogError` if the catalogue holds none)."""
    from ..errors import NotFoundError
    from .models import DataStore

    s = DataStore.__table__
    names = {n: i for i, n in conn.execute(sa.select(s.c.id, s.c.name).order_by(s.c.name))}
    if name in names:
        return names[name]
    raise empty_catalog_error(conn) or NotFoundError(f"no store {name!r} (stores: {', '.join(names)})")


def empty_catalog_error(conn: Connection):
    """An :class:`EmptyCatalogError` naming the database if it holds no observation, else None."""
    from ..errors import EmptyCatalogError
    from .models import Observation

    if conn.execute(sa.select(Observation.__table__.c.id).limit(1)).first() is not None:
        return None
    return EmptyCatalogError(f"the catalogue is empty: run `obscat ingest` (database {display_url(conn.engine.url)})")


def id_map(conn: Connection, table: sa.Table, key: str, store_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, ids)`` of a store's rows, sorted by key (read through the driver: fast)."""
    import numpy as np

    cursor = conn.connection.cursor()
    cursor.execute(f"SELECT {key}, id FROM {table.name} WHERE store_id = {param_mark(conn)} ORDER BY {key}", (store_id,))
    pairs = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
    cursor.close()
    return pairs[:, 0], pairs[:, 1]


def bulk_insert(conn: Connection, table: sa.Table, columns: list[str], rows: Iterable[tuple], *,
                frozen: bool = False) -> None:
    """Insert many rows fast: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    Table and column names come from obscat's models, never from users; the
    values travel as parameters (or COPY data), never as SQL text. ``frozen`` (a table created in
    this transaction): PostgreSQL writes the rows already visible to all (``COPY ... FREEZE``),
    so that index-only scans need no VACUUM first.
    """
    names = ", ".join(columns)
    driver_conn = dbapi_connection(conn)
    if conn.dialect.name == "postgresql":
        with driver_conn.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN{' WITH (FREEZE)' if frozen else ''}") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        marks = ", ".join("?" * len(columns))
        cursor = driver_conn.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()


@contextlib.contextmanager
def bulk_load(conn: Connection, table: sa.Table, n_new: int) -> Iterator[None]:
    """Defer ``table``'s non-unique indexes (and, on PostgreSQL, its foreign keys)
    while a large batch is inserted.

    When the batch outnumbers the rows already there, rebuilding an index
    (or validating a foreign key with one join) afterwards is much faster than
    maintaining it row by row.  It all happens inside the caller's
    transaction, so nobody ever sees the table without them; on PostgreSQL
    the table is locked against readers until the commit.  (SQLite's foreign
    keys are left unchecked by ``write_transaction(bulk=True)`` instead.)
    """
    indexes, foreign_keys = [], []
    if n_new > 10_000:
        existing = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        if n_new > existing:
            indexes = [index for index in table.indexes if not index.unique]
            if conn.dialect.name == "postgresql":
                foreign_keys = list(table.foreign_key_constraints)
    for constraint in foreign_keys:
        conn.execute(sa.schema.DropConstraint(constraint))
    for index in indexes:
        index.drop(conn)
    yield
    with building_indexes(conn):
        for index in indexes:
            index.create(conn)
    for constraint in foreign_keys:
        conn.execute(sa.schema.AddConstraint(constraint))


@contextlib.contextmanager
def by_index(conn: Connection) -> Iterator[None]:
    """Statements that reach rows by their ids, through an index, on tables that may be growing:
    on PostgreSQL no sequential scan meanwhile. A table filled in the same run has no statistics
    until autovacuum analyses it, and the planner, guessing, may scan it whole for each statement."""
    if conn.dialect.name != "postgresql":
        yield
        return
    before = conn.exec_driver_sql("SELECT current_setting('enable_seqscan'), "
                                  "set_config('enable_seqscan', 'off', true)").scalar_one()  # fmt: skip
    try:
        yield
    finally:
        conn.exec_driver_sql("SELECT set_config('enable_seqscan', %s, true)", (before,))


@contextlib.contextmanager
def building_indexes(conn: Connection) -> Iterator[None]:
    """Settings under which ``CREATE INDEX`` on a large table runs fastest (measured by
    benchmarks/bench_annotations.py): on SQLite a small page cache (its sorter builds an index
    faster in small sorted runs; 36 indexes on 10^6 rows: 38 s with the 128 MiB cache, 24 s with
    2 MiB) and worker threads for the sort; on PostgreSQL more sort memory, for this transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        yield
        return
    cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql("PRAGMA cache_size = -2000")
    conn.exec_driver_sql(f"PRAGMA threads = {min(os.cpu_count() or 1, 4)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache_size)}")
        conn.exec_driver_sql("PRAGMA threads = 0")


def refresh_statistics(conn: Connection, *tables: sa.Table) -> None:
    """On PostgreSQL, ``ANALYZE`` tables a write just filled, in its transaction (it counts its own
    rows): until autovacuum's next pass the planner would keep their old row counts and choose
    plans for a few rows (the pairs of a 10^4-run match read in 4.2 s instead of 0.4 s)."""
    if conn.dialect.name == "postgresql":
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table.name}")


def bulk_update(conn: Connection, table: sa.Table, columns: list[str], key: str, rows: Iterable[tuple]) -> None:
    """Update many rows by ``key``: each row holds the ``columns`` values, then the key."""
    style = param_mark(conn)
    assignments = ", ".join(f"{name} = {style}" for name in columns)
    driver_conn = dbapi_connection(conn)
    cursor = driver_conn.cursor()
    try:
        cursor.executemany(f"UPDATE {table.name} SET {assignments} WHERE {key} = {style}", rows)
    finally:
        cursor.close()
