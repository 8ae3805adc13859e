"""``obscat sql``: one read-only SQL statement over the catalogue, values bound.

Two locks keep it from writing: the statement must be a single query
(``SELECT``, ``WITH``, ``VALUES``, ``TABLE`` or ``EXPLAIN``; checked here on the text
with its comments, strings and quoted names blanked out), and the connection
itself cannot write (SQLite opened read-only, PostgreSQL transactions READ ONLY:
see :func:`obscat.store.engine.create_engine`), which also stops data-modifying CTEs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from .engine import connect, create_engine
from ..errors import InputError, one_line

__all__ = ["run_query", "check_query", "QUERY_KEYWORDS"]

QUERY_KEYWORDS = ("select", "with", "values", "table", "explain")

# comments, string literals, quoted identifiers and PostgreSQL dollar-quoted strings
_OPAQUE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(\$\w*\$).*?\1", re.S)
_WRITE_ERRORS = ("readonly database", "read-only transaction", "attempt to write", "query_only")


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
    check_query(statement)
    engine = create_engine(url, read_only=True)
    try:
        with connect(engine) as conn:
            result = conn.execute(sa.text(statement), dict(params or {}))
            if not result.returns_rows:
                raise InputError("the SQL statement returns no rows")
            rows = result.fetchmany(limit) if limit is not None else result.fetchall()
            return list(result.keys()), [tuple(row) for row in rows]
    except StatementError as exc:  # from the database, or a :name left without --param
        message = one_line(exc.orig if exc.orig is not None else exc).split(" (Background on this error")[0]
        if any(fragment in message.lower() for fragment in _WRITE_ERRORS):
            raise InputError(f"obscat sql is read-only: the statement tried to write ({message})") from None
        raise InputError(f"SQL error: {message}") from None
    finally:
        engine.dispose()
