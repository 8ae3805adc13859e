"""Matching rules from user values: presets, Quantity tolerances in each quantity's unit, and the
parameters a stored match keeps.

Presets (sources in docs/matching.md):

* ``veritas-mimic``: the rules of gammapy-tools' ``find_data_mimic``
  (``gammapy_tools/utils/run_details.py``) with its defaults: airmass difference 0.15,
  azimuth 30 deg, NSB level 0.7, 30 days apart (``tmid_mjd``), the same telescope number,
  ``|b| >= 10 deg``; its defects fixed (azimuth wrapped at 360 deg, the airmass tolerance used as
  given instead of converted a second time).
* ``hess-runmatch``: one OFF run per ON run, within the 10 deg of zenith of the zenith bins of
  H.E.S.S. background models (Mohrmann et al. 2019), the same telescope number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..query.columns import EPOCH, NUMERIC_COLUMNS, unknown_column
from ..store.models import observation_column_info
from .match import QUANTITIES, Rules
from .tolerance import in_unit

__all__ = ["PRESETS", "match_rules", "tolerance_unit"]

#: Preset name -> its rules (tolerances as text with units, as a user would give them).
PRESETS: dict[str, dict[str, Any]] = {
    "veritas-mimic": {
        "max_delta": {"airmass": "0.15", "azimuth": "30 deg", "nsblevel": "0.7", "tmid_mjd": "30 d"},
        "same": ("n_tels",),
        "min_abs_b": "10 deg",
    },
    "hess-runmatch": {
        "max_delta": {"zenith": "10 deg"},
        "same": ("n_tels",),
        "n_off": 1,
    },
}


def tolerance_unit(key: str) -> str:
    """The unit of quantity ``key``'s values and tolerance (``""``: none)."""
    if key in ("zenith", "azimuth"):
        return "deg"
    if key == "airmass":
        return ""
    if key not in NUMERIC_COLUMNS:
        raise _annotation_column(key, "max_delta") or unknown_column(key, f" in `max_delta` (or a quantity: "
                                                                            f"{', '.join(QUANTITIES)})")  # fmt: skip
    return observation_column_info(key).get("unit") or ""


def _annotation_column(name: str, parameter: str) -> ParameterError | None:
    """The error for an annotation column (``dq.light_yield``) in ``parameter``: matches compare
    observation columns only; None for any other name."""
    if "." not in name:
        return None
    return ParameterError(f"`{parameter}` names {name!r}: annotation columns cannot be matched on, only observation "
                          "columns; select on it in `on` and `off_from` instead")  # fmt: skip


def _value(label: str, value, unit: str, *, positive: bool = True) -> float:
    """``value`` (a Quantity, a string such as ``"5 deg"``, or a number in ``unit``) in ``unit``;
    ``label`` names it in errors (```max_delta` zenith``)."""
    number = in_unit(value, unit, label)
    if not math.isfinite(number) or (number <= 0 if positive else number < 0):
        raise ParameterError(f"{label}={value}: must be {'> 0' if positive else '>= 0'}")
    return number


def match_rules(*, preset: str | None, max_delta: Mapping[str, Any] | None, same: Sequence[str] | None,
                weights: Mapping[str, float] | None, n_off: int | None, livetime_ratio: float | None,
                unique: bool | None, exclusion_radius=None, sources=None, min_abs_b=None
                ) -> tuple[Rules, dict[str, Any]]:  # fmt: skip
    """The :class:`~obscat.group.match.Rules` of a preset overridden by the values given (a
    ``max_delta`` entry of None removes the preset's tolerance), and the parameters to store."""
    if preset is not None and preset not in PRESETS:
        raise ParameterError(f"`preset={preset!r}` is not a preset ({', '.join(PRESETS)})")
    base = PRESETS.get(preset or "", {})
    deltas = {**base.get("max_delta", {}), **dict(max_delta or {})}
    tolerances = {}
    for key, value in deltas.items():
        if value is None:
            continue
        unit = tolerance_unit(key)
        tolerances[key] = (_value(f"`max_delta` {key}", value, unit), unit)
    same = tuple(base.get("same", ()) if same is None else same)
    for column in same:
        if column not in NUMERIC_COLUMNS and column != EPOCH:  # epoch: the instrument epoch (obscat epochs)
            raise _annotation_column(column, "same") or unknown_column(column, " in `same` (or epoch)")
    if n_off is None and livetime_ratio is None:
        n_off = base.get("n_off", 1)
    unique = bool(base.get("unique", False) if unique is None else unique)
    radius = exclusion_radius if exclusion_radius is not None else base.get("exclusion_radius")
    radius_deg = None if radius is None else _value("`exclusion_radius`", radius, "deg", positive=False)
    b = min_abs_b if min_abs_b is not None else base.get("min_abs_b")
    b_deg = None if b is None else _value("`min_abs_b`", b, "deg", positive=False)
    sources_deg = None
    if sources is not None:
        icrs = sources.icrs
        sources_deg = np.column_stack([np.atleast_1d(icrs.ra.deg), np.atleast_1d(icrs.dec.deg)])
    rules = Rules({k: v for k, (v, _) in tolerances.items()}, same=same, weights=dict(weights or {}),
                  exclusion_radius_deg=radius_deg, sources_deg=sources_deg, min_abs_b_deg=b_deg, n_off=n_off,
                  livetime_ratio=livetime_ratio, unique=unique)  # fmt: skip
    params = {"preset": preset, "max_delta": {k: [v, unit] for k, (v, unit) in tolerances.items()},
              "same": list(same), "weights": {k: rules.weight(k) for k in tolerances}, "n_off": n_off,
              "livetime_ratio": livetime_ratio, "unique": unique, "exclusion_radius_deg": radius_deg,
              "sources_deg": None if sources_deg is None else sources_deg.tolist(), "min_abs_b_deg": b_deg}  # fmt: skip
    return rules, params
