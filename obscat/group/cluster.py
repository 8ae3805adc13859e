"""Hierarchical clustering of observations on stored IRF features, as Gammapy's recipe
(``standard_scaler`` + ``hierarchical_clustering``), with scipy/fastcluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sqlalchemy as sa

from ..errors import InputError, ParameterError
from ..query.criteria import Criterion
from ..store.engine import reading
from ..store.models import FeatureSet, FeatureValue, Observation
from ..store.rows import id_by_name
from ..text import plural
from .split import selected_values
from .stored import GroupingResult, store_grouping
from .tolerance import in_unit

__all__ = ["cluster", "linkage_tree", "standardized", "MAX_CLUSTER_OBS", "MAX_DISTANCE_MATRIX_BYTES"]


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

    spread = dict(max_spread or {})
    criteria = [c for c in (n_groups, max_distance, inconsistent, spread or None) if c is not None]
    if len(criteria) != 1:
        raise ParameterError("give one of `n_groups`, `max_distance`, `inconsistent` or `max_spread`")
    if method not in ("ward", "single", "complete", "average"):
        raise ParameterError(f"`method={method!r}` is not a linkage method (ward, single, complete, average)")
    if standardize not in ("zscore", "robust", "none"):
        raise ParameterError(f"`standardize={standardize!r}` is not a standardisation (zscore, robust, none)")
    loaded = list(dict.fromkeys([*features, *spread]))
    ids, stores, obs_ids, matrix, units = _feature_matrix(engine, feature_set, features, loaded, selection)
    if len(matrix) < 2:
        raise InputError("clustering needs at least two observations")
    if len(matrix) > MAX_CLUSTER_OBS:
        raise InputError(f"{len(matrix)} selected observations: one clustering takes at most {MAX_CLUSTER_OBS} "
                         "(its time grows as N²); select fewer, e.g. per season or zenith band")  # fmt: skip
    if n_groups is not None and not 1 <= n_groups <= len(matrix):
        raise ParameterError(f"`n_groups={n_groups}` must be between 1 and the {len(matrix)} selected observations")
    tree = linkage_tree(standardized(matrix[:, : len(features)], standardize), method)
    tolerances = {}
    notes = []
    if n_groups is not None:
        numbers = fcluster(tree, t=n_groups, criterion="maxclust")
        made = len(np.unique(numbers))
        if made < n_groups:  # maxclust cannot split observations whose features are identical
            notes.append(f"`n_groups={n_groups}`: the features of the {len(matrix)} observations make only {made} "
                         f"distinct group{'s' if made != 1 else ''} (identical values); stored {made}")  # fmt: skip
            requested, n_groups = n_groups, made
    elif max_distance is not None:
        numbers = fcluster(tree, t=max_distance, criterion="distance")
    elif inconsistent is not None:
        numbers = fcluster(tree, t=inconsistent, criterion="inconsistent")
    else:
        tolerances = {f: _tolerance(f, v, units[f]) for f, v in spread.items()}
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
    result = store_grouping(engine, name, "cluster", params, selection, ids, stores, obs_ids, labels, quantities, replace,
                    feature_set=feature_set)  # fmt: skip
    result.notes.extend(notes)
    return result


def _feature_matrix(engine, feature_set: str, features: Sequence[str], loaded: Sequence[str], selection: Criterion):
    """ids, stores, OBS_IDs, the (N, len(loaded)) feature values and their units; errors name
    features the set lacks and observations it lacks or holds NULL/NaN for."""
    ids, stores, obs_ids, _ = selected_values(engine, "obs_id", selection)
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
    rows_bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1)).tolist()
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
                         f"(limit {MAX_DISTANCE_MATRIX_BYTES / 2**30:.0f} GiB): use `method` ward or single, "
                         "which run in O(N) memory, or select fewer observations")  # fmt: skip
    from scipy.cluster.hierarchy import linkage

    return linkage(scaled, method=method, metric="euclidean")


def _tolerance(feature: str, value, unit: str) -> float:
    """A ``max_spread`` tolerance in the feature's stored unit."""
    tolerance = in_unit(value, unit, f"`max_spread` {feature}")
    if not tolerance >= 0:
        raise ParameterError(f"`max_spread` {feature}={value}: the tolerance must be a number >= 0")
    return tolerance


def _smallest_within(tree: np.ndarray, columns: list[np.ndarray], tolerances: list[float]) -> np.ndarray:
    """The cluster numbers of the smallest maxclust cut whose every group has each column's
    range within its tolerance (cuts of one tree are nested, so a bisection finds it)."""
    from scipy.cluster.hierarchy import fcluster

    def within(k: int) -> bool:
        numbers = fcluster(tree, t=k, criterion="maxclust")
        order = np.argsort(numbers, kind="stable")
        starts = np.flatnonzero(np.diff(numbers[order], prepend=0))
        for column, tolerance in zip(columns, tolerances):
            ranges = np.maximum.reduceat(column[order], starts) - np.minimum.reduceat(column[order], starts)
            if np.any(ranges > tolerance):
                return False
        return True

    lo, hi = 1, len(tree) + 1  # one group each always fits
    while lo < hi:
        mid = (lo + hi) // 2
        if within(mid):
            hi = mid
        else:
            lo = mid + 1
    return fcluster(tree, t=lo, criterion="maxclust")


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
