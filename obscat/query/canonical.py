"""Canonical JSON: the one text a criterion or grouping parameters are stored as.

Sorted keys, no whitespace, floats as JSON numbers (``repr``, so they read back exactly),
numpy scalars as Python numbers, Quantities as ``{"unit", "value"}`` and Times as
``{"format": "mjd", "scale": "tt", "value"}``; never a Python repr. The same value always
gives byte-identical text.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import ParameterError

__all__ = ["canonical_json", "plain", "quantity_json", "quantity_from_json", "time_json"]


def canonical_json(value: Any) -> str:
    """``value`` (see :func:`plain`) as canonical JSON text."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def plain(value: Any) -> Any:
    """``value`` as JSON types: dicts (string keys, sorted), lists, strings, finite numbers, bools, None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParameterError(f"{value} cannot be stored: only finite numbers are")
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    kind = type(value).__module__.split(".")[0]
    if kind == "numpy":
        return plain(value.tolist())  # numpy scalars and arrays
    if kind == "astropy":
        from astropy import units as u
        from astropy.time import Time

        if isinstance(value, Time):
            return time_json(value)
        if isinstance(value, u.Quantity):
            return quantity_json(value)
    raise ParameterError(f"{type(value).__name__} {value!r} cannot be stored as JSON")


def quantity_json(quantity, unit=None) -> dict:
    """``{"unit": "deg", "value": 1.5}`` (in ``unit`` if given); a list value for an array."""
    if unit is not None:
        quantity = quantity.to(unit)
    return {"unit": quantity.unit.to_string(), "value": plain(quantity.value.tolist())}


def quantity_from_json(data: dict):
    """The Quantity :func:`quantity_json` wrote."""
    from astropy import units as u

    return u.Quantity(data["value"], data["unit"])


def time_json(time) -> dict:
    """A Time as its TT MJD (a float reads back to the same TT MJD)."""
    return {"format": "mjd", "scale": "tt", "value": plain(time.tt.mjd.tolist())}
