"""The models of results derived from observations: feature sets and their values, groupings and
their members, and the versions of the files a result was computed from (``file_use``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .observation_models import Observation
from .orm import Base, UtcDateTime
from .orm import unit_column as _unit

__all__ = ["FeatureSet", "FeatureValue", "Grouping", "GroupMember", "FileUse", "STATEMENT_CHECKED"]

#: The ``info`` of a foreign key that PostgreSQL checks once per statement, by triggers, instead
#: of with a constraint checked per row (revision 0013; SQLite keeps the constraint).
STATEMENT_CHECKED = {"postgresql": "checked per statement"}


def _statement_checked(target: str) -> ForeignKey:
    """A foreign key ``ON DELETE CASCADE`` to ``target``, checked per statement on PostgreSQL."""
    return ForeignKey(target, ondelete="CASCADE", info=STATEMENT_CHECKED)


class FeatureSet(Base):
    """One computation of IRF features: its parameters, and the version that made it.

    Identical parameters make the same set (``params_sha256`` is unique), so
    recomputing it replaces its values instead of adding a set.
    """

    __tablename__ = "feature_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: Canonical JSON of every parameter (below, plus the feature names).
    params: Mapped[dict[str, Any]]
    params_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    energy_true_tev: Mapped[float] = _unit("TeV")
    #: ICRS position the offsets were measured from (NULL: fixed offset or the pointing).
    position_ra_deg: Mapped[float | None] = _unit("deg")
    position_dec_deg: Mapped[float | None] = _unit("deg")
    fixed_offset_deg: Mapped[float | None] = _unit("deg")
    containment_fraction: Mapped[float] = _unit("")
    aeff_threshold_fraction: Mapped[float] = _unit("")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    obscat_version: Mapped[str] = mapped_column(String(40))

    values: Mapped[list[FeatureValue]] = relationship(
        back_populates="feature_set", cascade="all, delete-orphan", passive_deletes=True
    )


class FeatureValue(Base):
    """The value of one feature of one observation in one feature set (NULL with a reason)."""

    __tablename__ = "feature_value"

    feature_set_id: Mapped[int] = mapped_column(_statement_checked("feature_set.id"), primary_key=True)
    observation_id: Mapped[int] = mapped_column(_statement_checked("observation.id"), primary_key=True, index=True)
    feature: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[float | None]
    unit: Mapped[str] = mapped_column(String(20))
    #: Why ``value`` is NULL (missing HDU, point-like IRF, offset outside the IRF ...).
    null_reason: Mapped[str | None]
    #: The offset from the pointing the feature was evaluated at.
    offset_deg: Mapped[float | None] = _unit("deg")

    feature_set: Mapped[FeatureSet] = relationship(back_populates="values")
    observation: Mapped[Observation] = relationship()


class Grouping(Base):
    """A labelled partition of selected observations, with how it was made."""

    __tablename__ = "grouping"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: "split", "bins", "by" or "cluster".
    method: Mapped[str] = mapped_column(String(20))
    #: Everything the method was given (column, edges, thresholds, ...).
    params: Mapped[dict[str, Any]]
    #: The selection the observations came from as a Python repr (groupings made before revision
    #: 0007; NULL since).
    selection: Mapped[str | None]
    #: The selection as canonical JSON (obscat.query.criterion_from_json reads it back); NULL
    #: for groupings made before revision 0007.
    selection_json: Mapped[str | None]
    feature_set_id: Mapped[int | None] = mapped_column(ForeignKey("feature_set.id", ondelete="SET NULL"))
    #: Per label: its size and, per grouped quantity, min/max/std.
    summary: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    obscat_version: Mapped[str] = mapped_column(String(40))
    #: Members deleted since it was made, with their observations, by a re-ingest (NULL: none).
    members_removed: Mapped[int | None]

    members: Mapped[list[GroupMember]] = relationship(
        back_populates="grouping", cascade="all, delete-orphan", passive_deletes=True
    )


class GroupMember(Base):
    """One observation's label in one grouping."""

    __tablename__ = "group_member"

    grouping_id: Mapped[int] = mapped_column(ForeignKey("grouping.id", ondelete="CASCADE"), primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    label: Mapped[str] = mapped_column(String(100))

    grouping: Mapped[Grouping] = relationship(back_populates="members")
    observation: Mapped[Observation] = relationship()


class FileUse(Base):
    """A data file a derived result was computed from, and its version then.

    ``feature_set_id`` names the feature set; NULL means the pointing at
    mid-time (``obscat pointing``).  Paths, not ``hdu_file`` ids: a re-ingest
    rewrites ``hdu_file``, while these rows stay with their observation.
    """

    __tablename__ = "file_use"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(_statement_checked("observation.id"), index=True)
    feature_set_id: Mapped[int | None] = mapped_column(_statement_checked("feature_set.id"), index=True)
    path: Mapped[str]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, info={"unit": "byte"})
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, info={"unit": "ns"})
    #: zlib CRC-32 of the file's bytes: a file whose mtime moved but whose bytes did not is not changed.
    crc32: Mapped[int | None] = mapped_column(BigInteger)
