"""Selections given as Gammapy ``select_observations`` dicts, and everything a selection may be."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InputError, ParameterError
from .columns import NUMERIC_COLUMNS
from .cone import Cone
from .criteria import And, Criterion, Not, ValueRange
from .options import time_range

__all__ = ["from_gammapy", "as_criterion"]


def as_criterion(selection) -> Criterion:
    """A criterion from one, a regions ``CircleSkyRegion`` (a cone), Gammapy
    ``select_observations`` dicts (a list means AND), or None (every observation)."""
    if selection is None:
        return And(())
    if isinstance(selection, Criterion):
        return selection
    if isinstance(selection, (dict, list, tuple)):
        return from_gammapy(selection)
    if hasattr(selection, "center") and hasattr(selection, "radius"):
        return Cone(selection)
    raise ParameterError(f"`selection` must be a criterion (obscat.query), a CircleSkyRegion or Gammapy selection "
                         f"dicts, not {selection!r}")  # fmt: skip


def from_gammapy(selections: dict | Iterable[dict]) -> Criterion:
    """A selection from Gammapy ``select_observations`` dicts (a list means AND)."""
    from astropy import units as u
    from astropy.coordinates import Angle, SkyCoord

    items = [selections] if isinstance(selections, dict) else list(selections)
    out = []
    for item in items:
        item = dict(item)
        kind = item.pop("type", None)
        inverted = bool(item.pop("inverted", False))
        criterion: Criterion
        if kind == "sky_circle":
            lon, lat, radius, border = (Angle(item.pop(k, 0), "deg") for k in ("lon", "lat", "radius", "border"))
            frame = item.pop("frame")
            if frame not in ("icrs", "galactic"):
                raise InputError(f"unknown frame {frame!r} (icrs or galactic)")
            criterion = Cone(SkyCoord(lon, lat, frame=frame), radius, border=border)
        elif kind == "time_box":
            start, stop = item.pop("time_range")
            criterion = time_range(start, stop, partial_overlap=item.pop("partial_overlap", False))
        elif kind == "par_box":
            column = _gammapy_column(item.pop("variable"))
            lo, hi = (u.Quantity(v) for v in item.pop("value_range"))  # numbers, Quantities or "20 deg"
            criterion = ValueRange(column, *(_in_column_unit(column, v) for v in (lo, hi)))
        else:
            raise InputError(f"Invalid selection type: {kind}")
        if item:
            raise InputError(f"unknown selection keys {sorted(item)} for {kind}")
        out.append(Not(criterion) if inverted else criterion)
    return out[0] if len(out) == 1 else And(tuple(out))


def _in_column_unit(column: str, value):
    """A par_box bound: a bare number is in the column's unit (as Gammapy compares it)."""
    from astropy import units as u

    from ..store.models import observation_column_info

    unit = observation_column_info(column).get("unit")
    if value.unit != u.dimensionless_unscaled:
        return value
    return value.value * u.Unit(unit) if unit else float(value.value)


def _gammapy_column(variable: str) -> str:
    from ..store.models import gadf_columns

    column = gadf_columns().get(variable.upper())
    if column is None or column.name not in NUMERIC_COLUMNS:
        raise InputError(f"unknown column {variable!r} for par_box")
    return column.name
