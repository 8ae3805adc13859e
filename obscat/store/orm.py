"""The declarative base of the schema's models and what their columns share: the column types
(JSON documents, UTC times), the constraint names, and columns filled from the obs index or in a unit."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Double, Integer, MetaData, Table, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, mapped_column

__all__ = ["NAMING_CONVENTION", "JSONDocument", "UtcDateTime", "Base", "gadf_column", "unit_column"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class JSONDocument(TypeDecorator):
    """JSON text on SQLite, JSONB on PostgreSQL.

    The PostgreSQL dialect is imported only when it is used: the CLI's cold
    start on SQLite does not pay for it.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class UtcDateTime(TypeDecorator):
    """A point in time: stored in UTC, returned time-zone aware (UTC) on both backends
    (SQLite keeps no time zone; PostgreSQL returns the session's).  A naive datetime
    (as SQLite gives back, e.g. to a migration copying rows) is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    __table__: ClassVar[Table]  # every model is mapped to a Table (the default annotation is FromClause)
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONDocument(),
        float: Double(),
        int: Integer(),
        str: Text(),
    }


def gadf_column(name: str, unit: str | None = None, *aliases: str, **kwargs) -> Any:
    """A nullable column filled from the obs-index column ``name``."""
    info = {"gadf": name, "unit": unit, "aliases": aliases}
    return mapped_column(nullable=True, info=info, **kwargs)


def unit_column(unit: str, **kwargs) -> Any:
    """A column in ``unit``."""
    return mapped_column(info={"unit": unit}, **kwargs)
