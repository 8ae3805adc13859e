"""Groupings as stored rows: writing one, reading one back (:func:`stored_grouping`), listing,
renaming and deleting them.

A grouping row keeps how it was made: its method, its parameters and its selection as canonical
JSON (:mod:`obscat.query.canonical`), so that the selection re-runs to the same observations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from .._version import __version__
from ..errors import InputError, ParameterError
from ..query.annotations import bound_annotations
from ..query.canonical import plain
from ..query.columns import NUMERIC_COLUMNS
from ..query.criteria import Criterion, criterion_from_json
from ..results import GroupingSummary
from ..store.engine import connect, reading, write_transaction, writing
from ..store.models import (
    DataStore,
    FeatureSet,
    FeatureValue,
    Grouping,
    GroupingAnnotation,
    GroupMember,
    Observation,
    observation_column,
)
from ..store.rows import bulk_insert, check_observations_unchanged, id_by_name, refresh_statistics

if TYPE_CHECKING:
    from astropy.table import Table
    from sqlalchemy.engine import Connection

    from ..formats import RowStream

__all__ = ["members_query", "member_stream", "GroupingResult", "StoredGrouping", "GroupingSummary", "store_grouping", "stored_grouping", "groupings",
           "grouping_rows", "grouping_method", "grouping_annotation_sets", "summarize", "delete", "rename", "check_name", "MemberValues", "member_values"]  # fmt: skip

_G, _M, _O, _S = (t.__table__ for t in (Grouping, GroupMember, Observation, DataStore))
_GA = GroupingAnnotation.__table__


@dataclass
class GroupingResult:
    """A stored grouping: ``labels`` per (store, obs_id) and ``groups`` label → obs ids."""

    name: str
    method: str
    members: list[tuple[str, int, str]]  # (store, obs_id, label)
    #: Per label: ``n`` and, per grouped quantity, its ``min``, ``max`` and ``std``.
    summary: dict = field(default_factory=dict)
    #: What the user should know about how it came out (e.g. fewer groups than asked).
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [label for _, _, label in self.members]

    @property
    def groups(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for _, obs_id, label in self.members:
            out.setdefault(label, []).append(obs_id)
        return dict(sorted(out.items()))

    def to_table(self) -> Table:
        from astropy.table import Table

        return Table(rows=self.members, names=("store", "obs_id", "label"), meta={"grouping": self.name})


@dataclass(frozen=True)
class StoredGrouping:
    """A stored grouping as made: ``selection`` re-runs to the observations it was made from (None
    for groupings stored before revision 0007, whose ``selection_text`` is a Python repr)."""

    name: str
    method: str
    params: dict[str, Any]
    selection: Criterion | None
    selection_text: str | None
    feature_set: str | None
    created_at: dt.datetime
    obscat_version: str
    members_removed: int | None
    #: ``label``, ``store``, ``obs_id``, by label, store and OBS_ID.
    members: Table
    #: The annotation set versions its selection used: (name, version), by name.
    annotation_sets: tuple[tuple[str, int], ...] = ()

    @property
    def groups(self) -> dict[str, list[int]]:
        """label → its members' OBS_IDs, as :attr:`GroupingResult.groups`."""
        groups: dict[str, list[int]] = {}
        for label, obs_id in zip(self.members["label"], self.members["obs_id"]):
            groups.setdefault(str(label), []).append(int(obs_id))
        return groups


def summarize(labels: Sequence[str], quantities: dict[str, np.ndarray]) -> dict:
    """Per label (sorted): ``n`` and, per quantity, its ``min``, ``max`` and (population) ``std``."""
    names, inverse, counts = np.unique(np.asarray(labels, dtype=str), return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    summary: dict[str, dict[str, Any]] = {str(label): {"n": int(n)} for label, n in zip(names, counts)}
    for quantity, values in quantities.items():
        grouped = np.asarray(values, float)[order]
        mean = np.add.reduceat(grouped, starts) / counts
        spread = np.sqrt(np.add.reduceat((grouped - np.repeat(mean, counts)) ** 2, starts) / counts)
        for label, lo, hi, std in zip(names, np.minimum.reduceat(grouped, starts), np.maximum.reduceat(grouped, starts),
                                      spread):  # fmt: skip
            summary[str(label)][quantity] = {"min": float(lo), "max": float(hi), "std": float(std)}
    return summary


def store_grouping(engine, name: str, method: str, params: dict, selection: Criterion, ids, stores, obs_ids, labels,
                   quantities: dict[str, np.ndarray], replace: bool, feature_set: str | None = None,
                   then: Callable[[Connection, int], None] | None = None) -> GroupingResult:  # fmt: skip
    """Write a grouping (its members by observation id ``ids``) in one transaction; refuse an
    existing name unless ``replace``, and observations changed since they were read.
    ``then(conn, grouping_id)`` writes what else belongs to it, in the same transaction."""
    check_name(name)
    summary = summarize(labels, quantities)
    params_json = plain(params)  # JSON types only: no numpy scalars nor Quantities
    selection_json = selection.to_json()
    with writing(engine) as conn:
        check_observations_unchanged(conn, zip(ids, obs_ids))
        existing = conn.execute(sa.select(_G.c.id).where(_G.c.name == name)).scalar()
        if existing is not None and not replace:
            raise ParameterError(f"a grouping named {name!r} exists: pass `replace=True` to overwrite it")
        if existing is not None:
            conn.execute(sa.delete(_G).where(_G.c.id == existing))
        set_id = None
        if feature_set is not None:
            fs = FeatureSet.__table__
            set_id = conn.execute(sa.select(fs.c.id).where(fs.c.name == feature_set)).scalar()
        grouping_id = conn.execute(sa.insert(_G).values(
            name=name, method=method, params=params_json, selection=None, selection_json=selection_json,
            summary=plain(summary), feature_set_id=set_id, created_at=dt.datetime.now(dt.UTC), obscat_version=__version__,
        ).returning(_G.c.id)).scalar_one()  # fmt: skip
        bulk_insert(conn, _M, ["grouping_id", "observation_id", "label"],
                    ((grouping_id, i, label) for i, label in zip(ids, labels)))  # fmt: skip
        if then is not None:
            then(conn, grouping_id)
        refresh_statistics(conn, _M)
        used = bound_annotations(selection)
        if used:
            conn.execute(sa.insert(_GA), [dict(grouping_id=grouping_id, name=u.name, version=u.version, set_id=u.set_id)
                                          for u in used])  # fmt: skip
    return GroupingResult(name, method, list(zip(stores, obs_ids, labels)), summary)


def grouping_method(engine, name: str) -> str:
    """The method of stored grouping ``name``."""
    with connect(engine) as conn:
        return conn.execute(sa.select(_G.c.method).where(_G.c.id == id_by_name(conn, _G, name, "grouping"))).scalar_one()


def check_name(name: str) -> None:
    if not isinstance(name, str) or not name or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InputError(f"grouping name {name!r} must be 1-200 printable characters")


def members_query(conn, name: str) -> sa.Select:
    """The query of stored grouping ``name``'s members: ``label``, ``store``, ``obs_id``, by label then
    store and OBS_ID."""
    return _members_of(id_by_name(conn, _G, name, "grouping"))


def member_stream(engine, name: str) -> RowStream:
    """Stored grouping ``name``'s members as a :class:`~obscat.formats.RowStream`."""
    from ..formats import RowStream
    from ..store.stream import count_rows, open_rows

    with connect(engine) as conn:
        query = members_query(conn, name)
    return RowStream(["label", "store", "obs_id"], {"label": None, "store": None, "obs_id": None},
                     open_rows(engine, query), lambda: count_rows(engine, query))  # fmt: skip


def _members_of(grouping_id: int) -> sa.Select:
    return (
        sa.select(_M.c.label, _S.c.name.label("store"), _O.c.obs_id).join_from(_M, _O, _M.c.observation_id == _O.c.id)
        .join(_S, _S.c.id == _O.c.store_id).where(_M.c.grouping_id == grouping_id)
        .order_by(_M.c.label, _S.c.name, _O.c.obs_id)
    )  # fmt: skip


def _member_rows(conn, grouping_id: int) -> list[tuple]:
    return conn.execute(_members_of(grouping_id)).all()


def stored_grouping(bind, name: str) -> StoredGrouping:
    """Grouping ``name`` as stored, with its members."""
    from astropy.table import Table

    fs = FeatureSet.__table__
    with reading(bind) as conn:
        grouping_id = id_by_name(conn, _G, name, "grouping")
        row = conn.execute(
            sa.select(_G.c.method, _G.c.params, _G.c.selection, _G.c.selection_json, fs.c.name, _G.c.created_at,
                      _G.c.obscat_version, _G.c.members_removed)
            .outerjoin(fs, fs.c.id == _G.c.feature_set_id).where(_G.c.id == grouping_id)
        ).one()  # fmt: skip
        rows = _member_rows(conn, grouping_id)
        annotation_sets = _annotation_sets(conn, grouping_id)
    method, params, old_text, selection_json, feature_set, created_at, version, removed = row
    members = Table(rows=rows or None, names=("label", "store", "obs_id"), dtype=(str, str, np.int64),
                    meta={"grouping": name})  # fmt: skip
    selection = None if selection_json is None else criterion_from_json(selection_json)
    return StoredGrouping(name, method, params if isinstance(params, dict) else {}, selection,
                          selection_json if selection_json is not None else old_text, feature_set, created_at, version,
                          removed, members, annotation_sets)  # fmt: skip


def _annotation_sets(conn, grouping_id: int) -> tuple[tuple[str, int], ...]:
    query = sa.select(_GA.c.name, _GA.c.version).where(_GA.c.grouping_id == grouping_id).order_by(_GA.c.name, _GA.c.version)
    return tuple((name, version) for name, version in conn.execute(query))


def grouping_annotation_sets(bind, name: str) -> tuple[tuple[str, int], ...]:
    """The annotation set versions (name, version) grouping ``name``'s selection used."""
    with reading(bind) as conn:
        return _annotation_sets(conn, id_by_name(conn, _G, name, "grouping"))


def grouping_rows(engine, name: str) -> GroupingResult:
    """A stored grouping's members, by label then store and OBS_ID."""
    with connect(engine) as conn:
        grouping_id = id_by_name(conn, _G, name, "grouping")
        method = conn.execute(sa.select(_G.c.method).where(_G.c.id == grouping_id)).scalar_one()
        rows = _member_rows(conn, grouping_id)
    return GroupingResult(name, method, [(store, obs_id, label) for label, store, obs_id in rows])


def groupings(engine) -> list[GroupingSummary]:
    """Every stored grouping, by name."""
    n_obs = sa.select(sa.func.count()).where(_M.c.grouping_id == _G.c.id).scalar_subquery()
    n_groups = sa.select(sa.func.count(sa.distinct(_M.c.label))).where(_M.c.grouping_id == _G.c.id).scalar_subquery()
    with connect(engine) as conn:
        return [GroupingSummary(*r) for r in conn.execute(
            sa.select(_G.c.name, _G.c.method, n_groups, n_obs, _G.c.members_removed, _G.c.created_at).order_by(_G.c.name))]  # fmt: skip


def delete(engine, name: str) -> None:
    with write_transaction(engine) as conn:
        conn.execute(sa.delete(_G).where(_G.c.id == id_by_name(conn, _G, name, "grouping")))


def rename(engine, old: str, new: str) -> None:
    check_name(new)
    with write_transaction(engine) as conn:
        grouping_id = id_by_name(conn, _G, old, "grouping")
        if conn.execute(sa.select(_G.c.id).where(_G.c.name == new)).scalar() is not None:
            raise InputError(f"a grouping named {new!r} exists")
        conn.execute(sa.update(_G).where(_G.c.id == grouping_id).values(name=new))


@dataclass
class MemberValues:
    """A stored grouping's members (by store, OBS_ID) with the values of some quantities."""

    method: str
    params: dict
    labels: list[str]
    obs_ids: np.ndarray
    values: dict[str, np.ndarray]  # NaN where NULL
    units: dict[str, str]


def member_values(engine, name: str, quantities: Sequence[str], feature_set: str | None = None) -> MemberValues:
    """Members of grouping ``name`` with observation columns and/or features (of ``feature_set``,
    by default the one the grouping was clustered on) named in ``quantities``."""
    from ..formats import column_unit

    g, m, o, s = _G, _M, _O, _S
    fs, v = FeatureSet.__table__, FeatureValue.__table__
    columns = [q for q in quantities if q in NUMERIC_COLUMNS]
    with connect(engine) as conn:
        grouping_id = id_by_name(conn, g, name, "grouping")
        method, params, set_id = conn.execute(sa.select(g.c.method, g.c.params, g.c.feature_set_id)
                                              .where(g.c.id == grouping_id)).one()  # fmt: skip
        rows = conn.execute(
            sa.select(o.c.id, o.c.obs_id, m.c.label, *(observation_column(c) for c in columns))
            .join_from(m, o, m.c.observation_id == o.c.id).join(s, s.c.id == o.c.store_id)
            .where(m.c.grouping_id == grouping_id).order_by(s.c.name, o.c.obs_id)
        ).all()  # fmt: skip
        if feature_set is not None:
            set_id = id_by_name(conn, fs, feature_set, "feature set")
        features = [q for q in quantities if q not in NUMERIC_COLUMNS]
        stored = {}
        if features and set_id is not None:
            stored = {(r[0], r[1]): (r[2], r[3]) for r in conn.execute(
                sa.select(v.c.observation_id, v.c.feature, v.c.value, v.c.unit)
                .where(v.c.feature_set_id == set_id, v.c.feature.in_(features)))}  # fmt: skip
    values = {c: np.array([np.nan if r[3 + i] is None else r[3 + i] for r in rows], float) for i, c in enumerate(columns)}
    units = {c: column_unit(c) or "" for c in columns}
    for feature in features:
        if not any(key[1] == feature for key in stored):
            where = (f"feature set {feature_set!r}" if feature_set else "the grouping's feature set"
                     if set_id is not None else "a feature set: the grouping has none, give `feature_set`")
            raise InputError(f"{feature!r} is neither a numeric observation column nor a feature of {where}")
        cells = [stored.get((r[0], feature), (None, "")) for r in rows]
        values[feature] = np.array([np.nan if value is None else value for value, _ in cells], float)
        units[feature] = next((unit for value, unit in cells if value is not None), "")
    params = params if isinstance(params, dict) else {}
    return MemberValues(method, params, [r[2] for r in rows], np.array([r[1] for r in rows]), values, units)
