"""Where ``split`` cuts a column: :class:`Median`, :class:`Quantiles`, or a value (a Quantity or a
number in the column's unit); :func:`parse_at` reads the command line's ``--at``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, ParameterError

__all__ = ["Median", "Quantiles", "parse_at", "at_value", "at_params"]


@dataclass(frozen=True)
class Median:
    """The median of the split column or, with ``of``, of another numeric column (as the
    Gammapy tutorial cuts the zenith at mid-time at the median ZEN_PNT)."""

    of: str | None = None

    def __post_init__(self) -> None:
        if self.of is not None and not isinstance(self.of, str):
            raise ParameterError(f"`of` must be a column name, not {self.of!r}")


@dataclass(frozen=True)
class Quantiles:
    """Cuts at these quantiles of the column (fractions strictly between 0 and 1)."""

    fractions: Sequence[float]  # stored as a tuple

    def __post_init__(self) -> None:
        try:
            fractions = tuple(float(q) for q in np.atleast_1d(self.fractions))
        except (TypeError, ValueError):
            raise ParameterError(f"`fractions` must be numbers between 0 and 1, not {self.fractions!r}") from None
        bad = [q for q in fractions if not 0 < q < 1]
        if not fractions or bad:
            raise ParameterError(f"`fractions` must be numbers strictly between 0 and 1, not {bad or list(fractions)}")
        object.__setattr__(self, "fractions", fractions)


def parse_at(text: str) -> Median | Quantiles | float:
    """``--at``: ``median``, ``median:COLUMN``, ``q:0.25,0.5`` or a number."""
    if text == "median":
        return Median()
    if text.startswith("median:"):
        return Median(of=text[len("median:"):])
    if text.startswith("q:"):
        try:
            return Quantiles([float(q) for q in text[2:].split(",")])
        except (ValueError, ParameterError):
            raise InputError(f"--at {text!r}: quantiles are q:F1,F2,... with 0 < F < 1") from None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"--at takes median, a number or q:F1,F2,..., not {text!r}")
    return value


def at_value(at, unit: str | None) -> float:
    """A value ``at`` (a Quantity or a number) in the column's ``unit``."""
    from astropy import units as u

    if isinstance(at, u.Quantity):
        try:
            value = at.to_value(unit or u.dimensionless_unscaled, equivalencies=u.temperature())
        except u.UnitsError:
            raise ParameterError(f"`at` must be in {unit or 'no unit'} (the column's unit), not {at}") from None
    elif isinstance(at, (int, float, np.number)) and not isinstance(at, bool):
        value = at
    else:
        raise ParameterError(f"`at` must be Median(), Median(of=COLUMN), Quantiles([...]), a Quantity or a number, "
                             f"not {at!r}")  # fmt: skip
    if not (np.ndim(value) == 0 and math.isfinite(value)):
        raise ParameterError(f"`at` must be one finite value, not {at}")
    return float(value)


def at_params(at, unit: str | None) -> dict:
    """``at`` as grouping parameters (JSON)."""
    if isinstance(at, Median):
        return {"type": "median", "of": at.of}
    if isinstance(at, Quantiles):
        return {"type": "quantiles", "fractions": list(at.fractions)}
    return {"type": "value", "value": at_value(at, unit), "unit": unit or ""}

