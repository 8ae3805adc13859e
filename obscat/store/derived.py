"""Rows derived from observations: counted before a write would delete them.

Feature values, group memberships, pointing results and annotation rows belong to their
observation (foreign keys ``ON DELETE CASCADE``); ingest deletes them only with
an observation that left the index, or with a store the user asked to replace,
and says how many went.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..text import plural
from .annotation_tables import count_annotation_rows, delete_annotation_rows
from .models import FeatureValue, Grouping, GroupMember, GtiInterval, Observation, Pointing
from .rows import delete_cascade

__all__ = ["DerivedCounts", "StoreRemoval", "count_derived", "mark_groupings", "pointing_results", "remove_observations"]


@dataclass
class DerivedCounts:
    """Derived rows of a set of observations."""

    feature_values: int = 0
    group_members: int = 0
    #: Observations with a pointing at mid-time or GTIs (`obscat pointing`).
    pointings: int = 0
    #: Rows of annotation sets (their values tables).
    annotation_rows: int = 0
    #: Names of the groupings the members belong to.
    groupings: tuple[str, ...] = ()

    def __iadd__(self, other: DerivedCounts) -> DerivedCounts:
        self.feature_values += other.feature_values
        self.group_members += other.group_members
        self.pointings += other.pointings
        self.annotation_rows += other.annotation_rows
        self.groupings = tuple(sorted({*self.groupings, *other.groupings}))
        return self

    def any(self) -> bool:
        return bool(self.feature_values or self.group_members or self.pointings or self.annotation_rows)

    def __str__(self) -> str:
        text = (f"{plural(self.feature_values, 'feature value')}, {plural(self.group_members, 'group membership')}, "
                f"{plural(self.pointings, 'pointing result')}")  # fmt: skip
        if self.annotation_rows:
            text += f", {plural(self.annotation_rows, 'annotation row')}"
        if self.groupings:
            text += f" (groupings changed: {', '.join(self.groupings)})"
        return text


@dataclass
class StoreRemoval:
    """What removing a store deleted: its observations and the rows derived from them."""

    store: str
    n_obs: int
    derived: DerivedCounts

    def summary(self) -> str:
        text = f"removed store {self.store!r} ({plural(self.n_obs, 'observation')})"
        return f"{text}; deleted with it: {self.derived}" if self.derived.any() else text


def pointing_results(ids: sa.Select) -> sa.CompoundSelect:
    """The observations among ``ids`` with a pointing result: the pointing at mid-time and the GTIs
    ``obscat pointing`` read (either may be alone)."""
    return sa.union(*(sa.select(t.c.observation_id).where(t.c.observation_id.in_(ids))
                      for t in (Pointing.__table__, GtiInterval.__table__)))  # fmt: skip


def count_derived(conn: Connection, where: sa.ColumnElement[bool]) -> DerivedCounts:
    """The derived rows of the observations ``where`` (a condition on ``observation``) selects."""
    o, v, m, g = Observation.__table__, FeatureValue.__table__, GroupMember.__table__, Grouping.__table__
    ids = sa.select(o.c.id).where(where)
    n_values, n_members = (
        conn.execute(sa.select(sa.func.count()).where(t.c.observation_id.in_(ids))).scalar_one() for t in (v, m)
    )
    pointed = pointing_results(ids).subquery()
    n_pointings = conn.execute(sa.select(sa.func.count()).select_from(pointed)).scalar_one()
    names = conn.execute(sa.select(g.c.name).where(g.c.id.in_(
        sa.select(m.c.grouping_id).where(m.c.observation_id.in_(ids)))).order_by(g.c.name)).scalars()  # fmt: skip
    return DerivedCounts(n_values, n_members, n_pointings, count_annotation_rows(conn, ids), tuple(names))


def mark_groupings(conn: Connection, where: sa.ColumnElement[bool]) -> None:
    """Add to ``grouping.members_removed`` the members of the observations ``where`` selects."""
    o, m, g = Observation.__table__, GroupMember.__table__, Grouping.__table__
    removed = sa.select(o.c.id).where(where)
    lost = sa.select(sa.func.count()).where(m.c.grouping_id == g.c.id, m.c.observation_id.in_(removed)).scalar_subquery()
    conn.execute(sa.update(g).where(lost > 0).values(members_removed=sa.func.coalesce(g.c.members_removed, 0) + lost))


def remove_observations(conn: Connection, where: sa.ColumnElement[bool]) -> DerivedCounts:
    """Delete the observations ``where`` selects with every row derived from them, mark the
    groupings that lose members, and return what was deleted."""
    counts = count_derived(conn, where)
    mark_groupings(conn, where)
    delete_annotation_rows(conn, sa.select(Observation.__table__.c.id).where(where))
    delete_cascade(conn, Observation.__table__, where)
    return counts
