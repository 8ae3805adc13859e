"""Criteria from command-line text: the one place degrees and MJDs travel as bare numbers.

:func:`from_options` turns the shared selection flags (``--cone "RA DEC R"``, ``--time-start``,
``--range "COLUMN LO HI"``, ...) into typed criteria; errors speak in flags.
"""

from __future__ import annotations

import math

from ..errors import InputError
from .columns import NUMERIC_COLUMNS, unknown_column
from .cone import Cone
from .criteria import And, Criterion, Ids, Not, ObjectName, Store, TimeRange, ValueRange
from .where import Where, parse_time

__all__ = ["from_options", "time_range", "value_range", "INVERTIBLE"]

INVERTIBLE = ("cone", "time", "range", "object", "obs-id", "where")


def time_range(start, stop, *, partial_overlap: bool = False) -> TimeRange:
    """A :class:`TimeRange` from Times, ISO strings or MJD numbers (UTC)."""
    t0, t1 = parse_time(start), parse_time(stop)
    if t0 > t1:
        raise InputError(f"time range starts at {start} after it stops at {stop}: no observation can match")
    return TimeRange(t0, t1, partial_overlap=partial_overlap)


def value_range(text: str) -> ValueRange:
    """``"COLUMN LO HI"``; LO and HI may carry a unit (``"zen_pnt_deg 0.3rad 40deg"``), bare
    numbers are in the column's unit."""
    from astropy import units as u

    from ..store.models import observation_column_info

    parts = text.split()
    if len(parts) != 3:
        raise InputError(f"--range takes 'COLUMN LO HI', got {text!r}")
    column, *bounds = parts
    if column not in NUMERIC_COLUMNS:
        raise unknown_column(column)
    try:
        values = [u.Quantity(b) for b in bounds]
    except (TypeError, ValueError):
        raise InputError(f"--range bounds must be numbers, optionally with a unit: got {text!r}") from None
    unit = u.Unit(observation_column_info(column).get("unit") or "")
    if not all(math.isfinite(v.value) for v in values):
        raise InputError(f"range of {column} must be finite numbers, got ({bounds[0]}, {bounds[1]})")
    converted = []
    for value in values:
        if value.unit == u.dimensionless_unscaled:
            value = value.value * unit
        try:
            converted.append(value.to(unit, equivalencies=u.temperature()))
        except u.UnitsError:
            raise InputError(f"{value} is not convertible to the unit of {column} ({unit or 'dimensionless'})") from None
    lo, hi = converted
    if lo > hi:
        raise InputError(f"range of {column}: the lower bound {float(lo.value)!r} is above the upper bound {float(hi.value)!r}: "
                         "no observation can match")  # fmt: skip
    if unit == u.dimensionless_unscaled:
        return ValueRange(column, float(lo.value), float(hi.value))
    return ValueRange(column, lo, hi)


def from_options(
    *,
    store: str | None = None,
    obs_ids: list[int] | None = None,
    cone: str | None = None,
    frame: str = "icrs",
    border: float = 0.0,
    time_start: str | None = None,
    time_stop: str | None = None,
    partial_overlap: bool = False,
    ranges: list[str] | None = None,
    object_pattern: str | None = None,
    where: str | None = None,
    invert: list[str] | None = None,
) -> Criterion:
    """The AND of the criteria given as command-line options (``--invert NAME`` negates one)."""
    inverted = set(invert or ())
    unknown = inverted - set(INVERTIBLE)
    if unknown:
        raise InputError(f"--invert takes {', '.join(INVERTIBLE)}, not {sorted(unknown)[0]!r}")

    def flagged(criterion: Criterion, name: str) -> Criterion:
        return Not(criterion) if name in inverted else criterion

    parts: list[Criterion] = []
    if store is not None:
        parts.append(Store(store))
    if obs_ids:
        parts.append(flagged(Ids(tuple(obs_ids)), "obs-id"))
    if cone is not None:
        lon, lat, radius = _floats(cone, "--cone", 3)
        parts.append(flagged(Cone.from_degrees(lon, lat, radius, border=border, frame=frame), "cone"))
    if (time_start is None) != (time_stop is None):
        raise InputError("give both --time-start and --time-stop")
    if time_start is not None:
        parts.append(flagged(time_range(time_start, time_stop, partial_overlap=partial_overlap), "time"))
    for text in ranges or ():
        parts.append(flagged(value_range(text), "range"))
    if object_pattern is not None:
        parts.append(flagged(ObjectName(object_pattern), "object"))
    if where is not None:
        parts.append(flagged(Where(where), "where"))
    return And(tuple(parts))


def _floats(text: str, option: str, n: int) -> list[float]:
    parts = text.replace(",", " ").split()
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != n:
        raise InputError(f"{option} takes {n} numbers, got {text!r}")
    return values
