"""The models of annotation sets: per-run quality tables of an observatory (data checks, weather
grades, trigger rates ...) keyed by OBS_ID, ingested from a file.

A set's values live in a table of their own, ``annotation_values_<set id>``, created at ingest
(:mod:`.annotation_tables`): one row per matched observation, one typed and indexed column per
annotation column, named ``c0``, ``c1`` ... (the user's names stay in :class:`AnnotationColumn`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .orm import Base, JSONDocument, UtcDateTime

__all__ = ["AnnotationSet", "AnnotationColumn", "GroupingAnnotation", "ANNOTATION_KINDS"]

#: The kinds of annotation column: a number (with a unit, or none), text, an ordered category
#: (stored as its rank, 0 the best), an integer bit mask.
ANNOTATION_KINDS = ("number", "text", "category", "mask")


class AnnotationSet(Base):
    """One ingest of an annotation file: several versions of one name live side by side."""

    __tablename__ = "annotation_set"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_annotation_set_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: 1 for the first ingest of ``name``, then 2, 3 ...
    version: Mapped[int]
    #: The store whose observations the rows were matched to (by OBS_ID).
    store: Mapped[str] = mapped_column(String(200))
    source_path: Mapped[str]
    sha256: Mapped[str] = mapped_column(String(64))
    #: Rows in the file, rows stored (one per matched observation), rows without an observation.
    n_rows: Mapped[int]
    n_matched: Mapped[int]
    n_unmatched: Mapped[int]
    #: The file's column holding OBS_IDs.
    key_column: Mapped[str]
    #: How duplicate keys were resolved: NULL (refused), "first", "last", "max:COLUMN".
    on_duplicate: Mapped[str | None] = mapped_column(String(210))
    #: The table holding the values (``annotation_values_<id>``).
    table_name: Mapped[str] = mapped_column(String(63))
    ingested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    obscat_version: Mapped[str] = mapped_column(String(40))

    columns: Mapped[list[AnnotationColumn]] = relationship(
        back_populates="annotation_set", cascade="all, delete-orphan", passive_deletes=True,
        order_by="AnnotationColumn.position",
    )  # fmt: skip


class AnnotationColumn(Base):
    """One column of an annotation set: its name in the file, kind, unit, categories, aggregation."""

    __tablename__ = "annotation_column"

    set_id: Mapped[int] = mapped_column(ForeignKey("annotation_set.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: One of :data:`ANNOTATION_KINDS`.
    kind: Mapped[str] = mapped_column(String(20))
    #: The unit of a number (NULL: none).
    unit: Mapped[str | None] = mapped_column(String(60))
    #: A category's labels, best first (its stored rank is the index here).
    categories: Mapped[list[str] | None] = mapped_column(JSONDocument())
    #: How the rows of one observation were combined (per-subrun tables): "mean", "min", "max",
    #: "frac" (fraction of true/non-zero); NULL: one row per observation.
    aggregate: Mapped[str | None] = mapped_column(String(10))

    annotation_set: Mapped[AnnotationSet] = relationship(back_populates="columns")

    @property
    def sql_name(self) -> str:
        """The column of the values table holding it."""
        return f"c{self.position}"


class GroupingAnnotation(Base):
    """An annotation set version a grouping's selection used (its provenance)."""

    __tablename__ = "grouping_annotation"

    grouping_id: Mapped[int] = mapped_column(ForeignKey("grouping.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    #: The set, while it exists (a deletion the user forced leaves name and version).
    set_id: Mapped[int | None] = mapped_column(ForeignKey("annotation_set.id", ondelete="SET NULL"), index=True)

