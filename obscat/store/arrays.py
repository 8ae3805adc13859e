"""Numeric columns of a query as one float array, read fast on both backends: PostgreSQL packs
them into one binary value (unpacked by numpy in one pass, instead of a Python tuple per row),
SQLite's cursor is read in batches straight into numpy."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .engine import connect, dbapi_connection
from .stream import open_rows

__all__ = ["float_columns"]


def float_columns(engine: Engine, columns: Sequence[sa.ColumnElement], where: sa.ColumnElement) -> np.ndarray:
    """The (rows, len(columns)) float64 values of ``columns`` where ``where`` holds, in no order,
    NULL as NaN (integers are exact below 2**53)."""
    values = [sa.func.coalesce(sa.cast(c, sa.Double), sa.literal(float("nan"), sa.Double)) for c in columns]
    query = sa.select(*values).where(where)
    if engine.dialect.name == "postgresql":
        return _aggregated(engine, query, len(columns))
    rows = open_rows(engine, query, batch=20_000)
    try:
        parts = [np.array(batch, dtype=float).reshape(len(batch), len(columns)) for batch in rows.batches(False)]
    finally:
        rows.close()
    return np.concatenate(parts) if parts else np.zeros((0, len(columns)))


def _aggregated(engine: Engine, query: sa.Select, n: int) -> np.ndarray:
    """Every row's float8 values packed by the server into one bytea (``float8send``: 8 bytes,
    big-endian, row after row), unpacked by numpy: one value crosses instead of a row per row."""
    sub = query.subquery()
    parts: list[sa.ColumnElement[bytes]] = [sa.func.float8send(c, type_=sa.LargeBinary) for c in sub.c]
    row = functools.reduce(lambda a, b: a.op("||", return_type=sa.LargeBinary)(b), parts)
    compiled = sa.select(sa.func.string_agg(row, sa.literal(b"", sa.LargeBinary))).compile(
        dialect=engine.dialect, compile_kwargs={"render_postcompile": True})  # fmt: skip
    with connect(engine) as conn:  # psycopg's binary results: the bytea is not sent as hex text
        with dbapi_connection(conn).cursor(binary=True) as cursor:
            data = cursor.execute(compiled.string, compiled.params).fetchone()[0]
    return np.frombuffer(data or b"", ">f8").astype(float).reshape(-1, n)
