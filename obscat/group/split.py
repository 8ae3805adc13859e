"""Groupings by one column: ``split`` at a median, quantiles or a value, ``bins`` at edges, ``by``
distinct values. Labels say what they mean (``low_zenith``/``high_zenith``, ``zenith_[20,40)``,
``n_tels_4``)."""

from __future__ import annotations

import math

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import InputError, ParameterError
from ..query.columns import (
    EPOCH,
    NUMERIC_COLUMNS,
    POINTING_COLUMNS,
    TEXT_COLUMNS,
    pointing_not_computed,
    unknown_column,
)
from ..query.criteria import Criterion
from ..query.explain import no_observation_error
from ..store.engine import reading
from ..store.epochs import epoch_name
from ..store.models import DataStore, GroupMember, Observation, observation_column, observation_column_info
from ..text import plural
from .points import Median, Quantiles, at_params, at_value
from .stored import GroupingResult, store_grouping

__all__ = ["selected_values", "split", "bins", "by"]

_WORDS = {"zen_pnt_deg": "zenith", "alt_pnt_deg": "altitude", "az_pnt_deg": "azimuth", "zen_tmid_deg": "zenith",
          "alt_tmid_deg": "altitude", "az_tmid_deg": "azimuth", "livetime_s": "livetime", "ontime_s": "ontime"}  # fmt: skip


def _varchar_length(column: sa.Column) -> int:
    """The ``n`` of a ``VARCHAR(n)`` column."""
    if not isinstance(column.type, sa.String) or column.type.length is None:
        raise TypeError(f"column {column.name} is not a VARCHAR(n)")
    return column.type.length


_MAX_LABEL = _varchar_length(GroupMember.__table__.c.label)


def _word(column: str) -> str:
    if column in _WORDS:
        return _WORDS[column]
    for suffix in ("_deg", "_s", "_tev", "_hz", "_hpa", "_degc", "_mjd"):
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def selected_values(bind: Engine | Connection, column: str, selection: Criterion, *, text: bool = False
                    ) -> tuple[list[int], list[str], list[int], np.ndarray]:  # fmt: skip
    """observation ids, stores, OBS_IDs and the column's values of the selection, by store and
    OBS_ID (with ``text``, a text column may be named too); a NULL value is an error naming it."""
    if column not in NUMERIC_COLUMNS and not (text and column in TEXT_COLUMNS):
        raise unknown_column(column, text=text)
    rows = _rows(bind, observation_column(column), selection)
    missing = [r for r in rows if r[3] is None or (not isinstance(r[3], str) and not math.isfinite(r[3]))]
    if missing and column in POINTING_COLUMNS:
        raise pointing_not_computed(column, len(missing))
    if missing:
        gadf_name = observation_column_info(column).get("gadf")  # where the value came from, if from the obs index
        source = f" ({gadf_name} is absent or NaN in {missing[0][4]})" if gadf_name else ""
        raise InputError(f"{column} is NULL for {plural(len(missing), 'selected observation')}: "
                         f"{', '.join(f'{r[1]}:{r[2]}' for r in missing[:10])}{source}")  # fmt: skip
    values = np.array([r[3] for r in rows], object if column in TEXT_COLUMNS else float)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], values


def _rows(bind: Engine | Connection, value: sa.ColumnElement, selection: Criterion) -> list[sa.Row]:
    """observation id, store, OBS_ID, ``value`` and obs-index path of the selection, by store and OBS_ID."""
    o, s = Observation.__table__, DataStore.__table__
    query = (
        sa.select(o.c.id, s.c.name, o.c.obs_id, value, s.c.obs_index_path)
        .join_from(o, s, o.c.store_id == s.c.id)
        .where(selection.clause()).order_by(s.c.name, o.c.obs_id)
    )  # fmt: skip
    with reading(bind) as conn:
        rows = conn.execute(query).all()
        if not rows:
            raise no_observation_error(conn, selection)
    return rows


def _epochs(bind: Engine | Connection, selection: Criterion) -> tuple[list[int], list[str], list[int], np.ndarray, str | None]:
    """As :func:`selected_values` for the observations' epochs, leaving out those in no epoch (and
    saying how many)."""
    rows = _rows(bind, epoch_name(), selection)
    kept = [r for r in rows if r[3] is not None]
    if not kept:
        raise InputError(f"none of the {plural(len(rows), 'selected observation')} is in an epoch: load epochs "
                         "with `obscat epochs load` (Catalog.load_epochs)")  # fmt: skip
    without = [r for r in rows if r[3] is None]
    note = None if not without else (
        f"{plural(len(without), 'selected observation')} in no epoch left out: "
        f"{', '.join(f'{r[1]}:{r[2]}' for r in without[:10])}{' ...' if len(without) > 10 else ''}")  # fmt: skip
    return [r[0] for r in kept], [r[1] for r in kept], [r[2] for r in kept], np.array([r[3] for r in kept], object), note


def split(bind, name: str, column: str, at, selection: Criterion, *, replace: bool = False) -> GroupingResult:
    """Cut ``column`` at ``at``: :class:`~obscat.group.points.Median` (of the column, or
    ``Median(of=OTHER)``), :class:`~obscat.group.points.Quantiles`, or a value (a Quantity, or a
    number in the column's unit).

    Two groups are ``low_<word>`` (``value < cut``, as Gammapy's tutorial) and ``high_<word>``;
    more are labelled by their interval.
    """
    unit = observation_column_info(column).get("unit") if column in NUMERIC_COLUMNS else None
    params = {"column": column, "at": at_params(at, unit)}
    ids, stores, obs_ids, values = selected_values(bind, column, selection)
    if isinstance(at, Median):
        source = values if at.of is None else selected_values(bind, at.of, selection)[3]
        cuts = [float(np.median(source))]
    elif isinstance(at, Quantiles):
        cuts = sorted(float(np.quantile(values, q)) for q in at.fractions)
    else:
        cuts = [at_value(at, unit)]
    word = _word(column)
    if len(cuts) == 1:
        labels = np.where(values < cuts[0], f"low_{word}", f"high_{word}").tolist()
    else:
        labels = _intervals(word, [-math.inf, *cuts, math.inf], values)
    params["cuts"] = cuts
    return store_grouping(bind, name, "split", params, selection, ids, stores, obs_ids, labels, {column: values},
                          replace)  # fmt: skip


def _edges(edges, column: str) -> list[float]:
    """Bin edges (a Quantity, or numbers in the column's unit) as floats in the column's unit."""
    from astropy import units as u

    unit = observation_column_info(column).get("unit") if column in NUMERIC_COLUMNS else None
    if isinstance(edges, u.Quantity):
        try:
            edges = edges.to_value(unit or u.dimensionless_unscaled, equivalencies=u.temperature())
        except u.UnitsError:
            raise ParameterError(f"`edges` must be in {unit or 'no unit'} (the unit of {column}), not {edges.unit}") from None
    try:
        values = [float(e) for e in np.atleast_1d(edges)]
    except (TypeError, ValueError):
        raise ParameterError(f"`edges` must be numbers or a Quantity, not {edges!r}") from None
    if len(values) < 2 or any(not b > a for a, b in zip(values, values[1:])) or not all(map(math.isfinite, values)):
        raise ParameterError(f"`edges` must be at least two increasing numbers, got {values}")
    return values


def bins(bind, name: str, column: str, edges, selection: Criterion, *, replace: bool = False) -> GroupingResult:
    """Label by the half-open bin ``[lo, hi)`` of ``edges`` (a Quantity, or numbers in the
    column's unit) holding ``column``; values outside all bins are an error naming them."""
    edges = _edges(edges, column)
    ids, stores, obs_ids, values = selected_values(bind, column, selection)
    outside = np.flatnonzero((values < edges[0]) | (values >= edges[-1]))
    if len(outside):
        raise InputError(f"{plural(len(outside), 'selected observation')} ha{'s' if len(outside) == 1 else 've'} "
                         f"{column} outside [{edges[0]:g}, {edges[-1]:g}): "
                         f"{', '.join(f'{stores[k]}:{obs_ids[k]}' for k in outside[:10])}")  # fmt: skip
    labels = _intervals(_word(column), edges, values)
    return store_grouping(bind, name, "bins", {"column": column, "edges": edges}, selection, ids, stores, obs_ids,
                          labels, {column: values}, replace)  # fmt: skip


def by(bind, name: str, column: str, selection: Criterion, *, replace: bool = False) -> GroupingResult:
    """One group per distinct value of ``column`` (e.g. N_TELS, a text column such as
    EVENT_TYPE, or ``epoch``: observations in no epoch are left out, and a note says how many):
    ``<word>_<value>``."""
    note = None
    if column == EPOCH:
        ids, stores, obs_ids, values, note = _epochs(bind, selection)
    else:
        ids, stores, obs_ids, values = selected_values(bind, column, selection, text=True)
    text = column in TEXT_COLUMNS or column == EPOCH
    # every digit (not 6 significant ones): distinct values get distinct labels
    distinct, inverse = np.unique(values, return_inverse=True)
    names = [f"{_word(column)}_{v}" if text else f"{_word(column)}_{int(v) if v.is_integer() else repr(float(v))}"
             for v in distinct]  # fmt: skip
    too_long = [label for label in names if len(label) > _MAX_LABEL]
    if too_long:
        raise InputError(f"label {too_long[0]!r} is longer than the {_MAX_LABEL} characters a group label holds")
    labels = [names[k] for k in inverse]
    result = store_grouping(bind, name, "by", {"column": column}, selection, ids, stores, obs_ids, labels,
                            {} if text else {column: values}, replace)  # fmt: skip
    result.notes += [note] if note else []
    return result


def _intervals(word: str, edges: list[float], values: np.ndarray) -> list[str]:
    """``<word>_[lo,hi)`` of the interval of ``edges`` holding each value."""
    names = [f"{word}_[{lo:g},{hi:g})" for lo, hi in zip(edges, edges[1:])]
    return [names[k] for k in np.searchsorted(edges, values, side="right") - 1]
