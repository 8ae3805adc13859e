"""Tolerances given as Quantities, their text, or bare numbers in a known unit."""

from __future__ import annotations

from ..errors import ParameterError, one_line

__all__ = ["in_unit"]


def in_unit(value, unit: str, what: str) -> float:
    """``value`` (a Quantity, a string such as ``"5 deg"``, or a number meaning ``unit``) as a
    number in ``unit`` (``""``: none); ``what`` starts the error message (```max_delta` zenith``)."""
    from astropy import units as u

    try:
        quantity = u.Quantity(value)
        if quantity.unit == u.dimensionless_unscaled and unit:
            quantity = quantity * u.Unit(unit)
        return float(quantity.to_value(u.Unit(unit)))
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise ParameterError(f"{what}={value}: {one_line(exc)} (expected {unit or 'a plain number'})") from None
