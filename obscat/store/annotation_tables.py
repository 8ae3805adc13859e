"""The values tables of annotation sets, ``annotation_values_<set id>``, created at ingest.

One row per matched observation (``observation_id``, its primary key, refers to ``observation``
``ON DELETE CASCADE``), one typed column per annotation column (``c0``, ``c1`` ...): a number as
a double, text as text, a category as its rank (an integer, 0 the best), a mask as a 64-bit
integer; numbers, text and categories indexed, masks not (bit tests cannot use an index).
They are not in the models' metadata: migrations and model checks leave them alone
(:func:`obscat.store.schema.model_objects`), and :func:`delete_annotation_rows` deletes the rows of removed
observations, which SQLite's unchecked bulk writes would otherwise leave behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .models import AnnotationSet

__all__ = ["VALUES_PREFIX", "values_table_name", "is_values_table", "values_table", "create_values_table",
           "create_indexes", "copy_rows", "drop_values_table", "delete_annotation_rows",
           "count_annotation_rows"]  # fmt: skip

VALUES_PREFIX = "annotation_values_"
_SQL_TYPES = {"number": sa.Double, "text": sa.Text, "category": sa.Integer, "mask": sa.BigInteger}


def values_table_name(set_id: int) -> str:
    return f"{VALUES_PREFIX}{int(set_id)}"


def is_values_table(name: str) -> bool:
    """Whether ``name`` is an annotation set's values table (not a model's)."""
    return re.fullmatch(rf"{VALUES_PREFIX}\d+", name) is not None


def values_table(name: str, kinds: Sequence[str]) -> sa.Table:
    """The values table ``name`` with one column per kind (in its own metadata)."""
    metadata = sa.MetaData()
    columns = [sa.Column(f"c{i}", _SQL_TYPES[kind](), nullable=True) for i, kind in enumerate(kinds)]
    table = sa.Table(name, metadata,
                     sa.Column("observation_id", sa.Integer, primary_key=True),
                     sa.ForeignKeyConstraint(["observation_id"], ["observation.id"], ondelete="CASCADE",
                                             name=f"fk_{name}_observation_id_observation"),
                     *columns)  # fmt: skip
    sa.Table("observation", metadata, sa.Column("id", sa.Integer, primary_key=True))  # the foreign key's target
    return table


def create_values_table(conn: Connection, name: str, kinds: Sequence[str]) -> sa.Table:
    """Create the values table (without its indexes: :func:`create_indexes` after the rows)."""
    table = values_table(name, kinds)
    table.create(conn)
    return table


def create_indexes(conn: Connection, table: sa.Table, kinds: Sequence[str]) -> None:
    """An index per number, text and category column (on PostgreSQL holding ``observation_id`` too:
    with the rows copied frozen, a filter reads the index alone); on PostgreSQL, the table's
    statistics (else its planner guesses a third of the rows match any filter, and scans every
    observation)."""
    from .rows import building_indexes, refresh_statistics

    with building_indexes(conn):
        for i, kind in enumerate(kinds):
            if kind != "mask":
                sa.Index(f"ix_{table.name}_c{i}", table.c[f"c{i}"], postgresql_include=["observation_id"]).create(conn)
    refresh_statistics(conn, table)


def drop_values_table(conn: Connection, name: str) -> None:
    if is_values_table(name):  # never a model's table
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))


def _tables(conn: Connection) -> list[str]:
    s = AnnotationSet.__table__
    return list(conn.execute(sa.select(s.c.table_name).order_by(s.c.id)).scalars())


def delete_annotation_rows(conn: Connection, observations: sa.Select) -> None:
    """Delete every annotation row of the observations ``observations`` (a select of ids) selects."""
    for name in _tables(conn):
        table = sa.table(name, sa.column("observation_id"))
        conn.execute(sa.delete(table).where(table.c.observation_id.in_(observations)))


def count_annotation_rows(conn: Connection, observations: sa.Select) -> int:
    """The annotation rows of the observations ``observations`` selects, in every set."""
    total = 0
    for name in _tables(conn):
        table = sa.table(name, sa.column("observation_id"))
        total += conn.execute(sa.select(sa.func.count()).where(table.c.observation_id.in_(observations))).scalar_one()
    return total


def copy_rows(conn: Connection, table: sa.Table, rows: Iterable[tuple]) -> None:
    """Insert rows (observation_id, c0, c1 ...) in bulk, into the table created in this transaction."""
    from .rows import bulk_insert

    bulk_insert(conn, table, [c.name for c in table.columns], rows, frozen=True)
