"""OFF runs for ON runs under matching conditions: numpy arrays in, pairs out (no database).

:func:`match_runs` applies, in order:

1. **OFF candidates.** An OFF run is a candidate unless it is one of the ON runs, points within
   ``exclusion_radius_deg`` of any ON pointing or known source, or lies at ``|b| <
   min_abs_b_deg``; a candidate with a NULL (NaN) value of a quantity the rules name is dropped.
2. **Hard tolerances.** An ON/OFF pair passes when, for every quantity ``q`` of ``max_delta``,
   ``|Δq| <= max_delta[q]``, and the ``same`` columns are equal. ``azimuth`` differences wrap at
   360 deg (350 and 10 deg are 20 deg apart); ``airmass`` is ``1/sin(elevation)`` with the
   elevation ``90 deg - zenith``: its tolerance is a difference of airmasses, used as given
   (gammapy-tools' ``el_diff``).
3. **Ranking.** Passing OFF runs are ranked by the weighted normalised distance
   ``sqrt(sum_q w_q (Δq / max_delta[q])**2 / sum_q w_q)`` (0: identical, at most 1 inside the
   tolerances), ties by OFF index.
4. **Taking.** Each ON run takes its ``n_off`` nearest OFF runs, or its nearest until their
   livetime reaches ``livetime_ratio`` times its own. With ``unique``, an OFF run serves one ON
   run at most: ON runs are served in their given order (the caller passes them by store and
   OBS_ID), each taking the nearest OFF runs no earlier ON run took. An ON run that cannot get
   enough takes none, and is reported with the tolerance most OFF candidates fail.

Nothing is an N x M scan: the OFF candidates sit in one k-d tree per ``same`` value, in
coordinates scaled by ``sqrt(w_q) / max_delta[q]`` (azimuth periodic), so that every passing pair
lies in a ball the tree searches nearest first (every ON run of a tree asks for its k nearest in
one query, k growing only for a run whose ranking is not settled); the exclusion radius is one
k-d tree of ON pointings and sources, asked only about OFF runs in cube cells next to theirs; the
reasons for unmatched ON runs come from sorted 1-d columns and binary search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from ..query.sky import separation_deg

__all__ = ["QUANTITIES", "PERIODIC", "Rules", "Pairs", "Unmatched", "match_runs", "quantity_values", "galactic_b_deg"]

#: Named quantities of ``max_delta`` and the observation column each is computed from.
QUANTITIES = {"zenith": "zen_pnt_deg", "azimuth": "az_pnt_deg", "airmass": "zen_pnt_deg"}
#: Quantities whose differences wrap at 360 deg.
PERIODIC = ("azimuth", "az_pnt_deg", "az_tmid_deg")
#: The north galactic pole in ICRS (deg): ``|b|`` is 90 deg minus the separation from it.
_NGP = (192.85948, 27.12825)


@dataclass(frozen=True)
class Rules:
    """How OFF runs are chosen; tolerances in the unit of their quantity (deg for zenith and
    azimuth, none for airmass, the column's unit otherwise)."""

    max_delta: Mapping[str, float]
    same: Sequence[str] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    exclusion_radius_deg: float | None = None
    #: Known sources (deg): an (n, 2) array of RA, Dec.
    sources_deg: np.ndarray | None = None
    min_abs_b_deg: float | None = None
    n_off: int | None = None
    livetime_ratio: float | None = None
    unique: bool = False

    def __post_init__(self) -> None:
        if not self.max_delta:
            raise ParameterError("`max_delta` must name at least one tolerance (e.g. zenith)")
        for key, tolerance in self.max_delta.items():
            if not (isinstance(tolerance, (int, float)) and tolerance > 0 and math.isfinite(tolerance)):
                raise ParameterError(f"`max_delta` {key}={tolerance!r}: a tolerance must be a number > 0 "
                                     "(use `same` for equal values)")  # fmt: skip
        unknown = set(self.weights) - set(self.max_delta)
        if unknown:
            raise ParameterError(f"`weights` {sorted(unknown)[0]!r} is not a quantity of `max_delta`")
        for key, weight in self.weights.items():
            if not weight > 0:
                raise ParameterError(f"`weights` {key}={weight!r}: a weight must be > 0")
        for name, value in (("exclusion_radius_deg", self.exclusion_radius_deg), ("min_abs_b_deg", self.min_abs_b_deg)):
            if value is not None and not value >= 0:
                raise ParameterError(f"`{name}={value!r}` must be >= 0")
        if (self.n_off is None) == (self.livetime_ratio is None):
            raise ParameterError("give one of `n_off` or `livetime_ratio`")
        if self.n_off is not None and not (isinstance(self.n_off, int) and self.n_off >= 1):
            raise ParameterError(f"`n_off={self.n_off!r}` must be an integer >= 1")
        if self.livetime_ratio is not None and not (self.livetime_ratio > 0 and math.isfinite(self.livetime_ratio)):
            raise ParameterError(f"`livetime_ratio={self.livetime_ratio!r}` must be a number > 0")

    def weight(self, key: str) -> float:
        return float(self.weights.get(key, 1.0))


@dataclass
class Unmatched:
    """An ON run (index) that did not get enough OFF runs: ``n_passing`` OFF runs passed every
    tolerance; ``tolerance`` is the one most of the ``n_candidates`` OFF candidates fail
    (``n_failing`` of them; ``""`` if none fails one)."""

    on: int
    n_passing: int
    tolerance: str
    n_failing: int
    n_candidates: int
    #: ``"null"`` (the ON run's value of ``tolerance`` is NULL), ``"used"`` (enough passed, but
    #: earlier ON runs took them: ``unique``) or ``""``.
    note: str = ""
    #: how the passing OFF runs fall short (``"fewer than the 2 needed"``)
    need: str = ""

    @property
    def reason(self) -> str:
        """One line: the failing tolerance and the counts."""
        if self.note == "null":
            return f"{self.tolerance} is NULL"
        if self.n_candidates == 0:
            return "no OFF candidate (every OFF run is an ON run, excluded or NULL)"
        used = "; the others were taken by earlier ON runs (unique)" if self.note == "used" else ""
        fails = f"{self.tolerance} fails for {self.n_failing} of {self.n_candidates} OFF candidates; " \
            if self.tolerance else ""  # fmt: skip
        short = f", {self.need}" if self.need and self.n_passing and not used else ""
        return f"{fails}{self.n_passing} pass every tolerance{short}{used}"


@dataclass
class Pairs:
    """The pairs made (index arrays into the ON and OFF runs, by ON then rank) and the ON runs
    left without OFF runs."""

    on: np.ndarray
    off: np.ndarray
    rank: np.ndarray
    distance: np.ndarray
    unmatched: list[Unmatched]
    n_candidates: int


def quantity_values(key: str, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The values of quantity ``key`` (a name of :data:`QUANTITIES` or a column) as floats."""
    values = np.asarray(columns[QUANTITIES.get(key, key)], float)
    if key == "airmass":
        return 1.0 / np.sin(np.radians(90.0 - values))
    return values


def galactic_b_deg(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Galactic latitude (deg) of ICRS positions."""
    return 90.0 - separation_deg(_NGP[0], _NGP[1], ra_deg, dec_deg, np)


def _unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def _candidates(on: Mapping[str, np.ndarray], off: Mapping[str, np.ndarray], on_ids, off_ids, rules: Rules,
                keys: list[str]) -> np.ndarray:  # fmt: skip
    """Indices of the OFF runs that may be paired (step 1)."""
    from scipy.spatial import cKDTree

    keep = ~np.isin(off_ids, on_ids)
    ra, dec = np.asarray(off["ra_pnt_deg"], float), np.asarray(off["dec_pnt_deg"], float)
    if rules.min_abs_b_deg is not None or rules.exclusion_radius_deg:
        keep &= np.isfinite(ra) & np.isfinite(dec)
    if rules.min_abs_b_deg is not None:
        with np.errstate(invalid="ignore"):
            keep &= np.abs(galactic_b_deg(ra, dec)) >= rules.min_abs_b_deg
    if rules.exclusion_radius_deg:
        centres = [np.column_stack([on["ra_pnt_deg"], on["dec_pnt_deg"]]).astype(float)]
        if rules.sources_deg is not None and len(rules.sources_deg):
            centres.append(np.asarray(rules.sources_deg, float).reshape(-1, 2))
        centre = np.concatenate(centres)
        centre = centre[np.isfinite(centre).all(axis=1)]
        idx = np.flatnonzero(keep)
        if len(centre) and len(idx):
            chord = 2 * math.sin(math.radians(min(rules.exclusion_radius_deg, 180.0)) / 2)
            centre_v, off_v = _unit_vectors(centre[:, 0], centre[:, 1]), _unit_vectors(ra[idx], dec[idx])
            near_cell = _near_cells(centre_v, off_v, chord)  # only these can be within the radius
            idx, off_v = idx[near_cell], off_v[near_cell]
            _, nearest = cKDTree(centre_v).query(off_v, distance_upper_bound=chord * (1 + 1e-9) + 1e-12)
            found = nearest < len(centre)
            near = np.zeros(len(idx), bool)
            near[found] = separation_deg(centre[nearest[found], 0], centre[nearest[found], 1], ra[idx][found],
                                         dec[idx][found], np) < rules.exclusion_radius_deg  # fmt: skip
            keep[idx[near]] = False
    for key in [*keys, *rules.same]:
        with np.errstate(invalid="ignore"):
            keep &= np.isfinite(quantity_values(key, off))
    return np.flatnonzero(keep)


def _near_cells(centres: np.ndarray, points: np.ndarray, chord: float) -> np.ndarray:
    """Which unit vectors ``points`` lie in a cube cell (of side >= ``chord``) next to a cell of
    ``centres``: a cheap superset of those within ``chord`` of a centre."""
    side = max(chord, 1e-3)
    n = int(math.ceil(2.0 / side)) + 4

    def cells(v: np.ndarray) -> np.ndarray:
        return np.floor((v + 1.0) / side).astype(np.int64) + 1

    c = cells(centres)
    steps = np.array([(a, b, d) for a in (-1, 0, 1) for b in (-1, 0, 1) for d in (-1, 0, 1)])
    around = (c[:, None, :] + steps[None]).reshape(-1, 3)
    p = cells(points)
    return np.isin(
        (p[:, 0] * n + p[:, 1]) * n + p[:, 2], np.unique((around[:, 0] * n + around[:, 1]) * n + around[:, 2])
    )


class _Window:
    """The sorted values of one quantity over the candidates, to count those within a tolerance."""

    def __init__(self, key: str, values: np.ndarray, tolerance: float | None) -> None:
        self.key, self.values, self.tolerance = key, np.sort(values), tolerance

    def failing(self, value: float) -> int:
        """How many candidates fail this quantity's tolerance (or equality) for ``value``."""
        v, n = self.values, len(self.values)
        if not math.isfinite(value):
            return n
        if self.tolerance is None:  # a `same` column
            return n - int(np.searchsorted(v, value, "right") - np.searchsorted(v, value, "left"))
        lo, hi = value - self.tolerance, value + self.tolerance
        within = int(np.searchsorted(v, hi, "right") - np.searchsorted(v, lo, "left"))
        if self.key in PERIODIC:  # the parts of the interval beyond 0 or 360 deg
            if lo < 0:
                within += int(np.searchsorted(v, 360.0, "right") - np.searchsorted(v, lo + 360.0, "left"))
            if hi > 360:
                within += int(np.searchsorted(v, hi - 360.0, "right") - np.searchsorted(v, 0.0, "left"))
        return n - min(within, n)


def match_runs(on: Mapping[str, np.ndarray], off: Mapping[str, np.ndarray], on_ids: np.ndarray, off_ids: np.ndarray,
               rules: Rules) -> Pairs:  # fmt: skip
    """Pair ON runs with OFF runs by ``rules`` (see the module docstring).

    ``on`` and ``off`` map column names (``zen_pnt_deg``, ``az_pnt_deg``, ``ra_pnt_deg``,
    ``dec_pnt_deg``, ``livetime_s`` and every column the rules name) to arrays, NaN where
    NULL; ``on_ids``/``off_ids`` identify the runs (an OFF run with an ON run's id is never
    its OFF run).
    """
    from scipy.spatial import cKDTree

    keys = list(rules.max_delta)
    cand = _candidates(on, off, on_ids, off_ids, rules, keys)
    scale = np.array([math.sqrt(rules.weight(k)) / rules.max_delta[k] for k in keys])
    total_weight = sum(rules.weight(k) for k in keys)
    on_q = np.column_stack([quantity_values(k, on) for k in keys])  # Rules hold at least one tolerance
    off_q = np.column_stack([quantity_values(k, off)[cand] for k in keys])
    periodic = np.array([k in PERIODIC for k in keys], bool)
    tolerance = np.array([rules.max_delta[k] for k in keys])
    on_same = [tuple(row) for row in np.column_stack([np.asarray(on[c], float) for c in rules.same])] if rules.same \
        else [()] * len(on_ids)  # fmt: skip
    off_same = np.column_stack([np.asarray(off[c], float)[cand] for c in rules.same]) if rules.same \
        else np.zeros((len(cand), 0))  # fmt: skip
    live_on = np.asarray(on["livetime_s"], float)
    live_off = np.asarray(off["livetime_s"], float)[cand]

    # one k-d tree per `same` value, in scaled coordinates (periodic dimensions wrapped into [0, box))
    box = np.where(periodic, 360.0 * scale, 0.0)
    scaled_off = off_q * scale
    scaled_off[:, periodic] %= box[periodic]
    groups = _groups(off_same) if len(cand) else {}
    trees = {value: cKDTree(scaled_off[members], boxsize=box if periodic.any() else None, balanced_tree=False,
                            compact_nodes=False) for value, members in groups.items()}  # fmt: skip
    radius = math.sqrt(total_weight) * (1 + 1e-9) + 1e-12
    point = on_q * scale
    point[:, periodic] %= box[periodic]

    weights = np.array([rules.weight(k) for k in keys])
    used = np.zeros(len(cand), bool)
    typical = float(np.median(live_off)) if len(cand) else 1.0
    need = np.full(len(on_ids), rules.n_off) if rules.n_off else \
        (rules.livetime_ratio * np.nan_to_num(live_on) / max(typical, 1e-9)).astype(int) + 1  # fmt: skip
    space = _Space(off_q, on_q, point, periodic, tolerance, weights / total_weight, radius)
    # the k nearest of every ON run ranked, one query per tree; a run whose ranking is not settled asks for more
    first: dict[int, tuple[np.ndarray, np.ndarray, bool, float, int]] = {}
    valid = np.isfinite(on_q).all(axis=1)
    for value, tree in trees.items():
        rows = np.array([i for i in np.flatnonzero(valid) if on_same[i] == value], int)
        if len(rows):
            k = min(len(groups[value]), max(8 * int(need[rows].max()), 16))
            for i, ranked in zip(rows, space.ranked(tree, groups[value], rows, k)):
                first[i] = (*ranked, k)
    sqrt_w = math.sqrt(total_weight)
    out_on, out_off, out_rank, out_dist, unmatched = [], [], [], [], []
    windows = None
    for i in range(len(on_ids)):
        q = on_q[i]
        taken, taken_dist, n_passing, exhausted = np.zeros(0, int), np.zeros(0), 0, False
        if i in first:
            found, dist, complete, kth, k = first[i]
            while True:
                n_passing = len(found)
                free = ~used[found] if rules.unique else slice(None)
                taken, taken_dist = _take(found[free], dist[free], live_off, live_on[i], rules)
                # unseen runs lie beyond the k-th nearest: the ranking is settled once the last taken is nearer
                if complete or (len(taken) and taken_dist[-1] * sqrt_w < kth * (1 - 1e-9)):
                    exhausted = (
                        rules.unique and not len(taken) and len(_take(found, dist, live_off, live_on[i], rules)[0]) > 0
                    )
                    break
                members = groups[on_same[i]]
                k = min(len(members), 4 * k)
                ((found, dist, complete, kth),) = space.ranked(trees[on_same[i]], members, np.array([i]), k)
        if len(taken):
            if rules.unique:
                used[taken] = True
            out_on.append(np.full(len(taken), i))
            out_off.append(cand[taken])
            out_rank.append(np.arange(1, len(taken) + 1))
            out_dist.append(taken_dist)
            continue
        if windows is None:
            windows = [_Window(k, off_q[:, j], rules.max_delta[k]) for j, k in enumerate(keys)] + \
                [_Window(c, off_same[:, j], None) for j, c in enumerate(rules.same)]  # fmt: skip
        need = f"fewer than the {rules.n_off} needed" if rules.n_off else \
            f"their livetime under {rules.livetime_ratio:g} times the ON run's"  # fmt: skip
        unmatched.append(_unmatched(i, [*q, *on_same[i]], windows, n_passing, len(cand), exhausted, need))
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return Pairs(cat(out_on, int), cat(out_off, int), cat(out_rank, int), cat(out_dist, float), unmatched, len(cand))


class _Space:
    """The scaled space of the k-d trees, and the exact tolerances and distances of the pairs they find."""

    def __init__(self, off_q, on_q, point, periodic, tolerance, weight_fraction, radius) -> None:
        self.off_q, self.on_q, self.point, self.periodic = off_q, on_q, point, periodic
        self.tolerance, self.weight_fraction, self.radius = tolerance, weight_fraction, radius

    def ranked(self, tree, members: np.ndarray, rows: np.ndarray, k: int):
        """For each ON run of ``rows``: the candidates among its ``k`` nearest in ``tree`` that pass
        every tolerance, by (distance, index), their distances, whether the tree holds no more
        (``complete``), and the ``k``-th nearest's distance in the scaled space."""
        tree_dist, idx = tree.query(self.point[rows], k=k, distance_upper_bound=self.radius)
        tree_dist, idx = tree_dist.reshape(len(rows), k), idx.reshape(len(rows), k)
        ok = idx < len(members)
        found = members[np.where(ok, idx, 0)]
        delta = np.abs(self.off_q[found] - self.on_q[rows][:, None, :])
        delta[..., self.periodic] %= 360.0
        delta[..., self.periodic] = np.minimum(delta[..., self.periodic], 360.0 - delta[..., self.periodic])
        inside = ok & np.all(delta <= self.tolerance, axis=2)
        dist = np.where(inside, np.sqrt((delta / self.tolerance) ** 2 @ self.weight_fraction), np.inf)
        order = np.lexsort((found, dist), axis=-1)
        found, dist = np.take_along_axis(found, order, -1), np.take_along_axis(dist, order, -1)
        n_inside = inside.sum(axis=1)
        complete = (k >= len(members)) | ~ok[:, -1]
        return [(found[n, : n_inside[n]], dist[n, : n_inside[n]], bool(complete[n]), float(tree_dist[n, -1]))
                for n in range(len(rows))]  # fmt: skip


def _groups(same: np.ndarray) -> dict[tuple, np.ndarray]:
    """Candidate indices per distinct row of the ``same`` columns (all of them if none)."""
    if not same.shape[1]:
        return {(): np.arange(len(same))}
    values, inverse = np.unique(same[:, 0] if same.shape[1] == 1 else same, axis=None if same.shape[1] == 1 else 0,
                                return_inverse=True)  # fmt: skip
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(values) + 1))
    rows = values.reshape(len(values), -1)
    return {tuple(rows[g]): order[bounds[g] : bounds[g + 1]] for g in range(len(values))}


def _take(found: np.ndarray, dist: np.ndarray, live_off: np.ndarray, live_on: float, rules: Rules):
    """The nearest OFF runs of ``found`` (ranked) enough for one ON run, or none."""
    if rules.n_off is not None:
        if len(found) < rules.n_off:
            return found[:0], dist[:0]
        return found[: rules.n_off], dist[: rules.n_off]
    assert rules.livetime_ratio is not None
    cumulative = np.cumsum(live_off[found])
    enough = np.flatnonzero(cumulative >= rules.livetime_ratio * live_on)
    if not len(enough):
        return found[:0], dist[:0]
    return found[: enough[0] + 1], dist[: enough[0] + 1]


def _unmatched(i: int, values: list[float], windows: list[_Window], n_passing: int, n_candidates: int,
               exhausted: bool, need: str) -> Unmatched:  # fmt: skip
    """ON run ``i`` with the tolerance most OFF candidates fail (the first named on a tie); ``need``
    says how its passing OFF runs fall short."""
    nulls = [w.key for w, v in zip(windows, values) if not math.isfinite(v)]
    if nulls:
        return Unmatched(i, 0, nulls[0], n_candidates, n_candidates, "null")
    failing = [(w.failing(v), -k) for k, (w, v) in enumerate(zip(windows, values))]
    n_failing, k = max(failing) if failing else (0, 0)
    key = windows[-k].key if n_failing else ""
    return Unmatched(i, n_passing, key, n_failing, n_candidates, "used" if exhausted else "", need)
