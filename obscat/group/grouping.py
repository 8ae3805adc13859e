"""Manual groupings of selected observations, stored as ``grouping``/``group_member`` rows.

``split`` cuts a column at its median, a value or quantiles; ``bins`` at
given edges; ``by`` takes its distinct values.  Labels say what they mean
(``low_zenith``/``high_zenith``, ``zenith_[20,40)``, ``n_tels_4``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..store.engine import connect, reading, write_transaction, writing
from ..store.rows import bulk_insert, check_observations_unchanged, id_by_name
from ..errors import InputError, one_line
from ..store.models import (
    POINTING_COLUMNS,
    DataStore,
    FeatureSet,
    FeatureValue,
    Grouping,
    GroupMember,
    Observation,
    observation_column,
    observation_column_info,
)
from ..query.selection import (
    NUMERIC_COLUMNS,
    TEXT_COLUMNS,
    Criterion,
    no_observation_error,
    pointing_not_computed,
    unknown_column,
)
from ..text import plural

__all__ = ["GroupingResult", "MemberValues", "member_values", "linkage_tree", "split", "bins", "by", "cluster", "groupings", "grouping_rows", "delete", "rename"]

_WORDS = {"zen_pnt_deg": "zenith", "alt_pnt_deg": "altitude", "az_pnt_deg": "azimuth", "zen_tmid_deg": "zenith",
          "alt_tmid_deg": "altitude", "az_tmid_deg": "azimuth", "livetime_s": "livetime", "ontime_s": "ontime"}  # fmt: skip


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

    def to_table(self):
        from astropy.table import Table

        return Table(rows=self.members, names=("store", "obs_id", "label"), meta={"grouping": self.name})


def _word(column: str) -> str:
    if column in _WORDS:
        return _WORDS[column]
    for suffix in ("_deg", "_s", "_tev", "_hz", "_hpa", "_degc", "_mjd"):
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def _values(engine: Engine | Connection, column: str, selection: Criterion, *, text: bool = False) -> tuple[list[int], list[str], list[int], np.ndarray]:
    """observation ids, stores, OBS_IDs and the column's values of the selection (with ``text``,
    a column of :data:`~obscat.query.selection.TEXT_COLUMNS` may be named too)."""
    if column not in NUMERIC_COLUMNS and not (text and column in TEXT_COLUMNS):
        raise unknown_column(column, text=text)
    o, s = Observation.__table__, DataStore.__table__
    query = (
        sa.select(o.c.id, s.c.name, o.c.obs_id, observation_column(column), s.c.obs_index_path)
        .join_from(o, s, o.c.store_id == s.c.id)
        .where(selection.clause()).order_by(s.c.name, o.c.obs_id)
    )  # fmt: skip
    with reading(engine) as conn:
        rows = conn.execute(query).all()
        if not rows:
            raise no_observation_error(conn, selection)
    missing = [r for r in rows if r[3] is None or (not isinstance(r[3], str) and not math.isfinite(r[3]))]
    if missing and column in POINTING_COLUMNS:
        raise pointing_not_computed(column, len(missing))
    if missing:
        gadf_name = observation_column_info(column).get("gadf")  # where the value came from, if it came from the obs index
        source = f" ({gadf_name} is absent or NaN in {missing[0][4]})" if gadf_name else ""
        raise InputError(f"{column} is NULL for {plural(len(missing), 'selected observation')}: "
                         f"{', '.join(f'{r[1]}:{r[2]}' for r in missing[:10])}{source}")  # fmt: skip
    values = np.array([r[3] for r in rows], object if column in TEXT_COLUMNS else float)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], values


def split(engine, name: str, column: str, at: str, selection: Criterion, *, replace: bool = False) -> GroupingResult:
    """Cut ``column`` at ``at``: ``"median"``, ``"median:OTHER"`` (the median of another
    column, as the tutorial cuts the zenith at mid-time at the median ZEN_PNT), a value,
    or quantiles ``"q:0.25,0.5,0.75"``.

    Two groups are ``low_<word>`` (``value < cut``, as Gammapy's tutorial) and
    ``high_<word>``; more are labelled by their interval.
    """
    ids, stores, obs_ids, values = _values(engine, column, selection)
    word = _word(column)
    if at == "median":
        cuts = [float(np.median(values))]
    elif at.startswith("median:"):
        cuts = [float(np.median(_values(engine, at[len("median:"):], selection)[3]))]
    elif at.startswith("q:"):
        try:
            fractions = [float(q) for q in at[2:].split(",")]
        except ValueError:
            raise InputError(f"--at {at!r}: quantiles are q:F1,F2,... with 0 < F < 1") from None
        if not all(0 < q < 1 for q in fractions):
            raise InputError(f"--at {at!r}: quantiles are q:F1,F2,... with 0 < F < 1")
        cuts = sorted(float(np.quantile(values, q)) for q in fractions)
    else:
        try:
            cuts = [float(at)]
        except ValueError:
            raise InputError(f"--at takes median, a number or q:F1,F2,..., not {at!r}") from None
    if len(cuts) == 1:
        labels = [f"low_{word}" if v < cuts[0] else f"high_{word}" for v in values]
    else:
        edges = [-math.inf, *cuts, math.inf]
        labels = [_interval(word, edges, v) for v in values]
    params = {"column": column, "at": at, "cuts": cuts}
    return _store(engine, name, "split", params, selection, ids, stores, obs_ids, labels, {column: values}, replace)


def bins(engine, name: str, column: str, edges: Sequence[float], selection: Criterion, *, replace: bool = False) -> GroupingResult:
    """Label by the half-open bin ``[lo, hi)`` of ``edges`` holding ``column``; values outside
    all bins are an error naming them."""
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise InputError(f"--edges must be at least two increasing numbers, got {edges}")
    ids, stores, obs_ids, values = _values(engine, column, selection)
    outside = [f"{s}:{o}" for s, o, v in zip(stores, obs_ids, values) if not edges[0] <= v < edges[-1]]
    if outside:
        raise InputError(f"{plural(len(outside), 'selected observation')} ha{'s' if len(outside) == 1 else 've'} {column} outside [{edges[0]:g}, {edges[-1]:g}): "
                         f"{', '.join(outside[:10])}")  # fmt: skip
    labels = [_interval(_word(column), edges, v) for v in values]
    return _store(engine, name, "bins", {"column": column, "edges": edges}, selection, ids, stores, obs_ids, labels,
                  {column: values}, replace)  # fmt: skip


def by(engine, name: str, column: str, selection: Criterion, *, replace: bool = False) -> GroupingResult:
    """One group per distinct value of ``column`` (e.g. N_TELS, or a text column such as
    EVENT_TYPE): ``<word>_<value>``."""
    ids, stores, obs_ids, values = _values(engine, column, selection, text=True)
    text = column in TEXT_COLUMNS
    # every digit (not 6 significant ones): distinct values get distinct labels
    labels = [f"{_word(column)}_{v}" if text else f"{_word(column)}_{int(v) if v.is_integer() else repr(float(v))}"
              for v in values]  # fmt: skip
    too_long = [label for label in labels if len(label) > _MAX_LABEL]
    if too_long:
        raise InputError(f"label {too_long[0]!r} is longer than the {_MAX_LABEL} characters a group label holds")
    return _store(engine, name, "by", {"column": column}, selection, ids, stores, obs_ids, labels,
                  {} if text else {column: values}, replace)  # fmt: skip


_MAX_LABEL = GroupMember.__table__.c.label.type.length


#: The most memory (bytes) the pairwise distances of complete/average linkage may take.
MAX_DISTANCE_MATRIX_BYTES = 1 << 30
#: The most observations one clustering takes: ward/single linkage needs O(N) memory but
#: O(N²) time (100,000 take about 50 s here, 200,000 about 4 min).
MAX_CLUSTER_OBS = 200_000


def cluster(
    engine,
    name: str,
    feature_set: str,
    features: Sequence[str],
    selection: Criterion,
    *,
    n_groups: int | None = None,
    max_distance: float | None = None,
    inconsistent: float | None = None,
    max_spread: Mapping[str, object] | None = None,
    standardize: str = "zscore",
    method: str = "ward",
    replace: bool = False,
) -> GroupingResult:
    """Hierarchical clustering of the selection on stored IRF features, as Gammapy's
    ``standard_scaler`` + ``hierarchical_clustering``: z-scores (population std),
    Euclidean distances, ``linkage(method)``, then ``fcluster`` into ``n_groups``
    (maxclust), at ``max_distance`` (distance) or an ``inconsistent`` threshold.
    Labels are ``cluster_1`` ... numbered as scipy numbers them.

    ``max_spread`` ({feature: tolerance}, a Quantity, a string such as ``"0.01 deg"``
    or a number in the feature's unit) instead picks the smallest number of groups
    whose every group keeps each named feature's range (max - min) within its tolerance.
    """
    from scipy.cluster.hierarchy import fcluster

    criteria = [c for c in (n_groups, max_distance, inconsistent, max_spread or None) if c is not None]
    if len(criteria) != 1:
        raise InputError("give one of --n-groups, --max-distance, --inconsistent or --max-spread")
    if method not in ("ward", "single", "complete", "average"):
        raise InputError(f"unknown linkage method {method!r} (ward, single, complete, average)")
    if standardize not in ("zscore", "robust", "none"):
        raise InputError(f"unknown standardisation {standardize!r} (zscore, robust, none)")
    loaded = list(dict.fromkeys([*features, *(max_spread or {})]))
    ids, stores, obs_ids, matrix, units = _feature_matrix(engine, feature_set, features, loaded, selection)
    if len(matrix) < 2:
        raise InputError("clustering needs at least two observations")
    if len(matrix) > MAX_CLUSTER_OBS:
        raise InputError(f"{len(matrix)} selected observations: one clustering takes at most {MAX_CLUSTER_OBS} "
                         "(its time grows as N²); select fewer, e.g. per season or zenith band")  # fmt: skip
    if n_groups is not None and not 1 <= n_groups <= len(matrix):
        raise InputError(f"--n-groups {n_groups} must be between 1 and the {len(matrix)} selected observations")
    tree = linkage_tree(standardized(matrix[:, : len(features)], standardize), method)
    tolerances = {}
    notes = []
    if n_groups is not None:
        numbers = fcluster(tree, t=n_groups, criterion="maxclust")
        made = len(np.unique(numbers))
        if made < n_groups:  # maxclust cannot split observations whose features are identical
            notes.append(f"--n-groups {n_groups}: the features of the {len(matrix)} observations make only {made} "
                         f"distinct group{'s' if made != 1 else ''} (identical values); stored {made}")  # fmt: skip
            requested, n_groups = n_groups, made
    elif max_distance is not None:
        numbers = fcluster(tree, t=max_distance, criterion="distance")
    elif inconsistent is not None:
        numbers = fcluster(tree, t=inconsistent, criterion="inconsistent")
    else:
        tolerances = {f: _tolerance(f, v, units[f]) for f, v in max_spread.items()}
        columns = [matrix[:, loaded.index(f)] for f in tolerances]
        numbers = _smallest_within(tree, columns, list(tolerances.values()))
        n_groups = int(numbers.max())
    labels = [f"cluster_{k}" for k in numbers]
    params = {"feature_set": feature_set, "features": list(features), "n_groups": n_groups,
              "max_distance": max_distance, "inconsistent": inconsistent, "standardize": standardize, "method": method,
              "max_spread": {f: [tolerance, units[f]] for f, tolerance in tolerances.items()}}  # fmt: skip
    if notes:
        params["n_groups_requested"] = requested
    quantities = {f: matrix[:, i] for i, f in enumerate(loaded)}
    result = _store(engine, name, "cluster", params, selection, ids, stores, obs_ids, labels, quantities, replace,
                    feature_set=feature_set)  # fmt: skip
    result.notes.extend(notes)
    return result


def _feature_matrix(engine, feature_set: str, features: Sequence[str], loaded: Sequence[str], selection: Criterion):
    """ids, stores, OBS_IDs, the (N, len(loaded)) feature values and their units; errors name
    features the set lacks and observations it lacks or holds NULL/NaN for."""
    ids, stores, obs_ids, _ = _values(engine, "obs_id", selection)
    v, o = FeatureValue.__table__, Observation.__table__
    with reading(engine) as conn:
        set_id = id_by_name(conn, FeatureSet.__table__, feature_set, "feature set")
        units = dict(conn.execute(sa.select(v.c.feature, sa.func.min(v.c.unit)).where(v.c.feature_set_id == set_id)
                                  .group_by(v.c.feature)).all())  # fmt: skip
        missing = [f for f in loaded if f not in units]
        if not features or missing:
            raise InputError(f"feature set {feature_set!r} has no feature {', '.join(missing) or '(none given)'}"
                             f" (it has: {', '.join(sorted(units))})")  # fmt: skip
        rows = conn.execute(sa.select(v.c.observation_id, v.c.feature, v.c.value, v.c.null_reason).where(
            v.c.feature_set_id == set_id, v.c.feature.in_(loaded),
            v.c.observation_id.in_(sa.select(o.c.id).where(selection.clause())))).all()  # fmt: skip
    row_of, column_of = {i: k for k, i in enumerate(ids)}, {f: k for k, f in enumerate(loaded)}
    matrix = np.full((len(ids), len(loaded)), np.nan)
    present = np.zeros(matrix.shape, bool)
    reasons: dict[int, dict[int, str]] = {}  # row -> feature column -> why it is NULL (names file, HDU, column)
    for observation_id, feature, value, null_reason in rows:
        k, c = row_of[observation_id], column_of[feature]
        present[k, c] = True
        if value is not None:
            matrix[k, c] = value
        elif null_reason:
            reasons.setdefault(k, {})[c] = f"{feature}: {null_reason}"
    absent = [f"{stores[k]}:{obs_ids[k]}" for k in np.flatnonzero(~present.all(axis=1))]
    if absent:
        raise InputError(f"feature set {feature_set!r} was not computed for {len(absent)} selected observations: "
                         f"{', '.join(absent[:10])}")  # fmt: skip
    rows_bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    bad = [f"{stores[k]}:{obs_ids[k]}" for k in rows_bad]
    if bad:
        why = next((f" ({stores[k]}:{obs_ids[k]} {reasons[k][min(reasons[k])]})" for k in rows_bad if k in reasons), "")
        raise InputError(f"features are NULL or NaN for {plural(len(bad), 'selected observation')}: {', '.join(bad[:10])}{why}")
    return ids, stores, obs_ids, matrix, {f: units[f] or "" for f in loaded}


def linkage_tree(scaled: np.ndarray, method: str) -> np.ndarray:
    """scipy's linkage matrix. Ward and single linkage come from fastcluster's
    ``linkage_vector``: the same tree in O(N) memory (and 10x faster than scipy at
    5,000 rows); complete and average need the O(N²) pairwise distances."""
    n = len(scaled)
    if method in ("ward", "single"):
        import fastcluster

        return fastcluster.linkage_vector(scaled, method=method)
    needed = n * (n - 1) // 2 * 8
    if needed > MAX_DISTANCE_MATRIX_BYTES:
        raise InputError(f"{method} linkage of {n} observations needs {needed / 2**30:.1f} GiB of pairwise distances "
                         f"(limit {MAX_DISTANCE_MATRIX_BYTES / 2**30:.0f} GiB): use --method ward or single, "
                         "which run in O(N) memory, or select fewer observations")  # fmt: skip
    from scipy.cluster.hierarchy import linkage

    return linkage(scaled, method=method, metric="euclidean")


def _tolerance(feature: str, value, unit: str) -> float:
    """A --max-spread tolerance in the feature's stored unit."""
    from astropy import units as u

    try:
        quantity = u.Quantity(value)
        if quantity.unit == u.dimensionless_unscaled and unit:
            quantity = quantity * u.Unit(unit)  # a bare number is in the feature's unit
        tolerance = float(quantity.to_value(u.Unit(unit)))
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise InputError(f"--max-spread {feature}={value}: {one_line(exc)} (the feature is in "
                         f"{unit or 'no unit'})") from None  # fmt: skip
    if not tolerance >= 0:
        raise InputError(f"--max-spread {feature}={value}: the tolerance must be a number >= 0")
    return tolerance


def _smallest_within(tree: np.ndarray, columns: list[np.ndarray], tolerances: list[float]) -> np.ndarray:
    """The cluster numbers of the smallest maxclust cut whose every group has each column's
    range within its tolerance (cuts of one tree are nested, so a bisection finds it)."""
    from scipy.cluster.hierarchy import fcluster

    def within(k: int) -> np.ndarray | None:
        numbers = fcluster(tree, t=k, criterion="maxclust")
        order = np.argsort(numbers, kind="stable")
        starts = np.flatnonzero(np.diff(numbers[order], prepend=0))
        for column, tolerance in zip(columns, tolerances):
            ranges = np.maximum.reduceat(column[order], starts) - np.minimum.reduceat(column[order], starts)
            if np.any(ranges > tolerance):
                return None
        return numbers

    lo, hi = 1, len(tree) + 1  # one group each always fits
    while lo < hi:
        mid = (lo + hi) // 2
        if within(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    return within(lo)


def standardized(matrix: np.ndarray, how: str) -> np.ndarray:
    """Columns as z-scores (population std, as Gammapy's standard_scaler), robust
    (median, interquartile range) or unchanged (``"none"``)."""
    if how == "none":
        return matrix
    if how == "zscore":  # numpy's default population std, as Gammapy's standard_scaler
        centre, scale = matrix.mean(axis=0), matrix.std(axis=0)
    else:
        centre = np.median(matrix, axis=0)
        scale = np.subtract(*np.percentile(matrix, [75, 25], axis=0))
    return (matrix - centre) / np.where(scale > 0, scale, 1.0)


def _interval(word: str, edges: list[float], value: float) -> str:
    k = int(np.searchsorted(edges, value, side="right")) - 1
    return f"{word}_[{edges[k]:g},{edges[k + 1]:g})"


def _store(engine, name, method, params, selection, ids, stores, obs_ids, labels, quantities, replace,
           feature_set: str | None = None) -> GroupingResult:  # fmt: skip
    _check_name(name)
    summary = {}
    for label in sorted(set(labels)):
        mask = np.array([lab == label for lab in labels])
        summary[label] = {"n": int(mask.sum())}
        for quantity, values in quantities.items():
            part = values[mask]
            summary[label][quantity] = {"min": float(part.min()), "max": float(part.max()), "std": float(part.std())}
    table = Grouping.__table__
    with writing(engine) as conn:
        check_observations_unchanged(conn, zip(ids, obs_ids))
        existing = conn.execute(sa.select(table.c.id).where(table.c.name == name)).scalar()
        if existing is not None and not replace:
            raise InputError(f"a grouping named {name!r} exists: use --replace to overwrite it")
        if existing is not None:
            conn.execute(sa.delete(table).where(table.c.id == existing))
        set_id = None
        if feature_set is not None:
            fs = FeatureSet.__table__
            set_id = conn.execute(sa.select(fs.c.id).where(fs.c.name == feature_set)).scalar()
        grouping_id = conn.execute(sa.insert(table).values(
            name=name, method=method, params=params, selection=repr(selection), summary=summary, feature_set_id=set_id,
            created_at=dt.datetime.now(dt.UTC), obscat_version=__version__,
        ).returning(table.c.id)).scalar_one()  # fmt: skip
        bulk_insert(conn, GroupMember.__table__, ["grouping_id", "observation_id", "label"],
                    ((grouping_id, i, label) for i, label in zip(ids, labels)))  # fmt: skip
    return GroupingResult(name, method, list(zip(stores, obs_ids, labels)), summary)


def _check_name(name: str) -> None:
    if not name or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InputError(f"grouping name {name!r} must be 1-200 printable characters")


def grouping_rows(engine: Engine, name: str) -> GroupingResult:
    """A stored grouping's members, by label then store and OBS_ID."""
    g, m, o, s = (t.__table__ for t in (Grouping, GroupMember, Observation, DataStore))
    with connect(engine) as conn:
        grouping_id = id_by_name(conn, Grouping.__table__, name, "grouping")
        method = conn.execute(sa.select(g.c.method).where(g.c.id == grouping_id)).scalar_one()
        rows = conn.execute(
            sa.select(s.c.name, o.c.obs_id, m.c.label).join_from(m, o, m.c.observation_id == o.c.id)
            .join(s, s.c.id == o.c.store_id).where(m.c.grouping_id == grouping_id)
            .order_by(m.c.label, s.c.name, o.c.obs_id)
        ).all()  # fmt: skip
    return GroupingResult(name, method, [tuple(r) for r in rows])


@dataclass
class MemberValues:
    """A stored grouping's members (by store, OBS_ID) with the values of some quantities."""

    method: str
    params: dict
    labels: list[str]
    obs_ids: np.ndarray
    values: dict[str, np.ndarray]  # NaN where NULL
    units: dict[str, str]


def member_values(engine: Engine, name: str, quantities: Sequence[str], feature_set: str | None = None) -> MemberValues:
    """Members of grouping ``name`` with observation columns and/or features (of ``feature_set``,
    by default the one the grouping was clustered on) named in ``quantities``."""
    from ..formats import column_unit

    g, m, o, s = (t.__table__ for t in (Grouping, GroupMember, Observation, DataStore))
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
                     if set_id is not None else "a feature set: the grouping has none, give --feature-set")
            raise InputError(f"{feature!r} is neither a numeric observation column nor a feature of {where}")
        cells = [stored.get((r[0], feature), (None, "")) for r in rows]
        values[feature] = np.array([np.nan if value is None else value for value, _ in cells], float)
        units[feature] = next((unit for value, unit in cells if value is not None), "")
    params = params if isinstance(params, dict) else {}
    return MemberValues(method, params, [r[2] for r in rows], np.array([r[1] for r in rows]), values, units)


def groupings(engine: Engine) -> list[tuple]:
    """Every stored grouping: name, method, number of groups and observations, members a
    re-ingest removed (NULL: none), created_at."""
    g, m = Grouping.__table__, GroupMember.__table__
    n_obs = sa.select(sa.func.count()).where(m.c.grouping_id == g.c.id).scalar_subquery()
    n_groups = sa.select(sa.func.count(sa.distinct(m.c.label))).where(m.c.grouping_id == g.c.id).scalar_subquery()
    with connect(engine) as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(g.c.name, g.c.method, n_groups, n_obs, g.c.members_removed, g.c.created_at).order_by(g.c.name))]  # fmt: skip


def delete(engine: Engine, name: str) -> None:
    with write_transaction(engine) as conn:
        conn.execute(sa.delete(Grouping.__table__).where(Grouping.__table__.c.id == id_by_name(conn, Grouping.__table__, name, "grouping")))


def rename(engine: Engine, old: str, new: str) -> None:
    _check_name(new)
    table = Grouping.__table__
    with write_transaction(engine) as conn:
        grouping_id = id_by_name(conn, Grouping.__table__, old, "grouping")
        if conn.execute(sa.select(table.c.id).where(table.c.name == new)).scalar() is not None:
            raise InputError(f"a grouping named {new!r} exists")
        conn.execute(sa.update(table).where(table.c.id == grouping_id).values(name=new))
