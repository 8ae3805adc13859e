"""Rows of a query fetched in batches from a server-side cursor, the connection held only while needed.

:func:`open_rows` runs the query at once (so a bad statement fails at the call), then hands out its
rows batch by batch: SQLAlchemy's ``stream_results`` (a named cursor on PostgreSQL with psycopg;
SQLite's cursor steps through the result as it is read).  Rows are read from the driver's cursor
with ``fetchmany``, converted only where a column's type needs it (JSON text on SQLite): at
10^6 rows SQLAlchemy's per-row objects would cost more than the reading.  The connection goes back
to the pool when the rows are exhausted or :meth:`Rows.close` is called.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import InputError
from .engine import connect

__all__ = ["BATCH_ROWS", "Rows", "open_rows", "count_rows", "first_rows"]

#: Rows fetched per round trip: enough to amortise it, few enough to keep memory flat.
BATCH_ROWS = 2_000
#: PostgreSQL's type OIDs of json and jsonb (cursor.description); SQLite gives no types.
JSON_TYPE_CODES = (114, 3802)
#: SQLite page cache of a streaming connection (KiB); the engine's own is sized for bulk ingest.
STREAM_CACHE_KIB = 2_048


class Rows:
    """An open query's column names and lazily fetched rows (tuples); close it, or read it to the end.

    Iterate over the rows, or over :meth:`batches` of them (lists of up to ``batch`` rows, each column
    converted once per batch): the same rows, read once.  Dropped (read or not) it closes itself:
    see :class:`_Releasing`.
    """

    def __init__(self, keys: list[str], json_columns: list[int], head: list[tuple], cursor: Any,
                 processors: list[tuple[int, Callable]], batch: int, stack: contextlib.ExitStack, on_empty: Callable[[Connection], None] | None,
                 conn: Connection) -> None:  # fmt: skip
        self.keys = keys
        #: (column index, conversion) of the columns whose driver values :meth:`batches` converts
        self.processors = processors
        #: indexes of the columns the driver decodes from JSON (PostgreSQL's json and jsonb)
        self.json_columns = json_columns
        self._head = head  # read through SQLAlchemy: converted already
        self._row_reader: Iterator[tuple] | None = None
        self._stack = stack
        self._conn = conn
        self._batches = _read(head, cursor, batch, stack, on_empty, conn)

    def batches(self, convert: bool = True) -> Iterator[list[tuple]]:
        """The rows, a batch (list) at a time; ``convert=False`` leaves the :attr:`converted` columns
        as the driver gives them (but for the first row, read through SQLAlchemy, converted)."""
        if not convert or not self.processors:
            return self._batches
        head, processors = self._head, self.processors  # not self: the reader must not refer back to the rows
        return (rows if rows is head else _converted(rows, processors) for rows in self._batches)

    def __iter__(self) -> Iterator[tuple]:
        if self._row_reader is None:  # one reader: iterating again goes on where the last stopped
            self._row_reader = itertools.chain.from_iterable(self.batches())
        return self._row_reader

    def close(self) -> None:
        """Stop reading and give the connection back (safe to call again)."""
        self._stack.close()

    @property
    def closed(self) -> bool:
        return self._conn.closed


class _Releasing(contextlib.ExitStack):
    """What to close (cursor, connection), closed when nothing refers to it any more: the rows and
    their reader both hold it, and neither holds the other, so there is no reference cycle that
    would leave the cursor to the garbage collector (and psycopg's warning)."""

    def __del__(self) -> None:
        self.close()


def _read(head: list[tuple], cursor: Any, batch: int, stack: contextlib.ExitStack,
          on_empty: Callable[[Connection], None] | None, conn: Connection) -> Iterator[list[tuple]]:  # fmt: skip
    """The driver's rows, batch by batch; the connection released after the last (or on an error)."""
    with stack:  # also turns driver errors into obscat's (see db.connect)
        if head:
            yield head
        while cursor is not None and (rows := cursor.fetchmany(batch)):
            yield rows
        if not head and on_empty is not None:
            on_empty(conn)


def first_rows(batches: Iterator[list[tuple]], limit: int | None) -> Iterator[list[tuple]]:
    """``batches`` up to the first ``limit`` rows (all with None); no batch is read past the limit."""
    left = limit
    for rows in batches:
        if left is not None:
            rows, left = rows[:left], left - min(left, len(rows))
        if rows:
            yield rows
        if left == 0:
            return


def _converted(rows: list[tuple], processors: list[tuple[int, Callable]]) -> list[tuple]:
    """``rows`` with each processed column converted, a column at a time."""
    columns = list(zip(*rows))
    for i, process in processors:
        columns[i] = tuple(map(process, columns[i]))
    return list(zip(*columns))


def open_rows(bind: Engine, query: sa.Executable, params: Mapping[str, Any] | None = None, *,
              batch: int = BATCH_ROWS, on_empty: Callable[[Connection], None] | None = None,
              dispose: bool = False) -> Rows:  # fmt: skip
    """Run ``query`` on a new connection of ``bind`` with a server-side cursor; its rows, unread.

    ``on_empty(conn)`` runs if the query returns no row (to raise why); ``dispose`` disposes
    of the engine too when the rows are closed (an engine made for this query alone).
    """
    stack = _Releasing()
    if dispose:
        stack.callback(bind.dispose)
    try:
        conn = stack.enter_context(connect(bind))
        if conn.dialect.name == "sqlite":  # pages read once need no cache: keep memory flat
            cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
            conn.exec_driver_sql(f"PRAGMA cache_size = {-STREAM_CACHE_KIB}")
            stack.callback(conn.exec_driver_sql, f"PRAGMA cache_size = {int(cache)}")
        result = conn.execution_options(stream_results=True).execute(query, dict(params or {}))
        stack.callback(result.close)  # the cursor (a named one on PostgreSQL) before the connection
        if not result.returns_rows:
            raise InputError("the SQL statement returns no rows")
        cursor = result.cursor
        processors = _processors(query, conn.dialect, cursor.description)
        json_columns = [i for i, d in enumerate(cursor.description) if d[1] in JSON_TYPE_CODES]  # before an
        # empty result's fetch closes the cursor (its description then None)
        head = [tuple(row) for row in result.fetchmany(1)]  # the row SQLAlchemy's buffer may have read ahead
    except BaseException:
        stack.close()
        raise
    return Rows(
        list(result.keys()), json_columns, head, cursor if head else None, processors, batch, stack, on_empty, conn
    )


def _processors(query: sa.Executable, dialect, description) -> list[tuple[int, Callable]]:
    """(column index, converter) of the selected columns whose driver values need converting."""
    columns = query.selected_columns if isinstance(query, sa.Select) else ()
    found = ((i, c.type.dialect_impl(dialect).result_processor(dialect, d[1]))
             for i, (c, d) in enumerate(zip(columns, description)))  # fmt: skip
    return [(i, process) for i, process in found if process is not None]


def count_rows(bind: Engine, query: sa.Select) -> int:
    """``SELECT count(*)`` of ``query``'s rows, counted by the database."""
    with connect(bind) as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
