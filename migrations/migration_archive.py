"""Data kept across schema downgrades, for the revisions in ``versions/``.

A downgrade that drops a table (or columns) first copies its rows into an
``obscat_archive_<name>`` table; the upgrade that recreates it copies them back
(ids included, PostgreSQL sequences moved past them) and drops the archive. So
``obscat db downgrade base`` followed by ``obscat db upgrade`` gives back every row.
Empty tables leave no archive, so an empty catalogue downgraded to base is empty.
Table and column names here are obscat's own, never user input.

Frozen history, like the revisions that import it (``from migration_archive import
...``): it imports nothing from obscat, and its behaviour never changes once a
released revision uses it (a new behaviour is a new function).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

#: Prefix of the archive tables (obscat.store.schema.ARCHIVE_PREFIX recognises them).
PREFIX = "obscat_archive_"

__all__ = ["archive", "restore", "MigrationRefused"]


class MigrationRefused(Exception):
    """A revision cannot run without losing data; the message says what to do
    (obscat's ``db`` commands print it as one line)."""


def archive(table: str, columns: Sequence[str] | None = None, *, suffix: str = "") -> None:
    """Copy ``table``'s rows (only ``columns``, if given) into ``obscat_archive_<table><suffix>``."""
    bind = op.get_bind()
    if bind.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0:
        return
    selected = ", ".join(columns) if columns else "*"
    op.execute(f"CREATE TABLE {PREFIX}{table}{suffix} AS SELECT {selected} FROM {table}")


def restore(table: str, *, key: str | None = None, suffix: str = "") -> None:
    """Copy an archive back into ``table`` and drop it: whole rows, or with ``key``
    the archived columns of the rows having the same ``key``."""
    bind = op.get_bind()
    name = f"{PREFIX}{table}{suffix}"
    inspector = sa.inspect(bind)
    if name not in inspector.get_table_names():
        return
    columns = [c["name"] for c in inspector.get_columns(name)]
    if key is None:
        listed = ", ".join(columns)
        op.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {name}")
        if bind.dialect.name == "postgresql" and "id" in columns:
            op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} "
                       "HAVING max(id) IS NOT NULL")  # fmt: skip
    else:
        assignments = ", ".join(f"{c} = (SELECT a.{c} FROM {name} a WHERE a.{key} = {table}.{key})"
                                for c in columns if c != key)  # fmt: skip
        op.execute(f"UPDATE {table} SET {assignments} WHERE {key} IN (SELECT {key} FROM {name})")
    op.execute(f"DROP TABLE {name}")
