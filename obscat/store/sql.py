"""``obscat sql``: one read-only SQL statement over the catalogue, values bound.

Two locks keep it from writing: the statement must be a single query
(``SELECT``, ``WITH``, ``VALUES``, ``TABLE`` or ``EXPLAIN``; checked here on the text
with its comments, strings and quoted names blanked out), and the connection
itself cannot write (SQLite opened read-only, PostgreSQL transactions READ ONLY:
see :func:`obscat.store.engine.create_engine`), which also stops data-modifying CTEs.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from ..errors import InputError, one_line
from .engine import create_engine
from .stream import Rows, first_rows, open_rows

if TYPE_CHECKING:
    from ..formats import RowStream

__all__ = ["run_query", "stream_query", "check_query", "QUERY_KEYWORDS"]

QUERY_KEYWORDS = ("select", "with", "values", "table", "explain")

# comments, string literals, quoted identifiers and PostgreSQL dollar-quoted strings
_OPAQUE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(\$\w*\$).*?\1", re.S)
_WRITE_ERRORS = ("readonly database", "read-only transaction", "attempt to write", "query_only")


def _dbapi_errors() -> tuple[type[Exception], ...]:
    """The drivers' own errors: psycopg's only once a PostgreSQL catalogue has loaded it."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, *((psycopg.Error,) if psycopg is not None else ()))


def check_query(statement: str) -> None:
    """Refuse anything but one query, naming what was found."""
    bare = _OPAQUE.sub(" ", statement)
    if "'" in bare or '"' in bare or "/*" in bare:
        raise InputError("the SQL statement has an unterminated string, quoted name or comment")
    body = bare.strip().rstrip(";").strip()
    if not body:
        raise InputError("empty SQL statement")
    if ";" in body:
        raise InputError("obscat sql runs one statement at a time: remove the ';' between statements")
    keyword = body.split(None, 1)[0].lower()
    if keyword not in QUERY_KEYWORDS:
        raise InputError(f"obscat sql is read-only: {keyword.upper()} statements are refused "
                         f"(queries start with {', '.join(k.upper() for k in QUERY_KEYWORDS)})")  # fmt: skip


def run_query(url: str | None, statement: str, params: Mapping[str, Any] | None = None,
              limit: int | None = None) -> tuple[list[str], list[tuple]]:  # fmt: skip
    """Column names and rows of ``statement`` with ``params`` bound (``:name`` in the SQL)."""
    with stream_query(url, statement, params, limit=limit) as stream:
        return stream.names, list(stream)


def stream_query(url: str | None, statement: str, params: Mapping[str, Any] | None = None, *,
                 limit: int | None = None) -> RowStream:  # fmt: skip
    """``statement``'s rows as a :class:`~obscat.formats.RowStream` (at most ``limit``), on a
    read-only engine of its own that is disposed of when the stream is closed or read to the end."""
    from ..formats import RowStream

    check_query(statement)
    params = dict(params or {})
    engine = create_engine(url, read_only=True)
    try:
        rows = _Checked(open_rows(engine, sa.text(statement), params, dispose=True), limit)
    except StatementError as exc:  # from the database, or a :name left without --param
        raise _sql_error(exc) from None

    def count() -> int | None:
        """COUNT(*) of the statement as a subquery; None where it cannot be one (EXPLAIN, TABLE on SQLite)."""
        counting = create_engine(url, read_only=True)
        try:
            with counting.connect() as conn:
                body = statement.strip().rstrip(";")
                total = conn.execute(sa.text(f"SELECT count(*) FROM ({body}) AS counted"), params).scalar_one()
        except sa.exc.DBAPIError:
            return None
        finally:
            counting.dispose()
        return total if limit is None else min(total, limit)

    return RowStream(rows.keys, {name: None for name in rows.keys}, rows, count)


class _Checked(Rows):
    """Open rows (the first ``limit``), database errors met while reading them reported as by
    :func:`_sql_error`: :class:`Rows` that read through ``rows`` (and close it), with no cursor of their own."""

    def __init__(self, rows: Rows, limit: int | None) -> None:
        self.keys, self.processors, self.json_columns = rows.keys, rows.processors, rows.json_columns
        self._rows, self._limit, self._row_reader = rows, limit, None

    def batches(self, convert: bool = True) -> Iterator[list[tuple]]:
        return _checked_batches(self._rows, self._limit, convert)  # refers to the rows, not to self: no cycle

    def close(self) -> None:
        self._rows.close()

    @property
    def closed(self) -> bool:
        return self._rows.closed


def _checked_batches(rows: Rows, limit: int | None, convert: bool) -> Iterator[list[tuple]]:
    """The batches of ``rows`` (the first ``limit`` rows), database errors as :func:`_sql_error`; ``rows``
    closed at the end."""
    try:
        yield from first_rows(rows.batches(convert), limit)
    except (StatementError,) + _dbapi_errors() as exc:
        raise _sql_error(exc) from None
    finally:
        rows.close()


def _sql_error(exc: Exception) -> InputError:
    """A database error as one line; a refused write said to be one."""
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    message = one_line(cause).split(" (Background on this error")[0]
    if any(fragment in message.lower() for fragment in _WRITE_ERRORS):
        return InputError(f"obscat sql is read-only: the statement tried to write ({message})")
    return InputError(f"SQL error: {message}")
