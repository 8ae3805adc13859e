"""A GADF obs index → whole columns of the ``observation`` table, in its storage units.

:func:`observation_columns` turns an obs index into one array per ``observation``
column (units converted, values checked, derived sky columns added), guided by the
GADF names the schema's columns carry.  Nothing here touches the database.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import sqlalchemy as sa
from astropy import units as u

from ..errors import InputError
from ..gadf import index as gadf
from ..gadf.text_codes import dtype_text, json_safe, text_codes
from .models import gadf_columns, sky_derived

__all__ = [
    "REQUIRED_OBS_COLUMNS",
    "ExtraJson",
    "observation_columns",
]

REQUIRED_OBS_COLUMNS = ("OBS_ID",)
#: Columns required in pairs: both or neither.  Without RA_PNT/DEC_PNT (ground arrays observe
#: in DRIFT mode) OBS_MODE is required; without TSTART/TSTOP the times come from the files.
PAIRED_OBS_COLUMNS = (("RA_PNT", "DEC_PNT"), ("TSTART", "TSTOP"))
#: Text columns that some writers fill with integer codes: stored as their text.
_LABEL_COLUMNS = ("EVENT_TYPE", "EVENT_CLASS", "IRF_NAME")
_TIME_COLUMNS = ("TSTART", "TSTOP", "EVENT_TIME_MIN", "EVENT_TIME_MAX")


def observation_columns(index: gadf.IndexTable) -> dict[str, Any]:
    """Column name → array (or None for all-NULL) for every ``observation`` column."""
    _require(index)
    if index.n_rows == 0:
        raise InputError(f"{index.path}: the observation index has no rows")
    timeunit = str(index.header.get("TIMEUNIT", "s")).strip() or "s"
    columns: dict[str, Any] = {}
    unitless = []
    for gadf_name, column in gadf_columns().items():
        if column.name in columns and columns[column.name] is not None:
            continue  # filled from an earlier spelling
        if gadf_name not in index.data.colnames:
            columns.setdefault(column.name, None)
            continue
        if gadf_name in _LABEL_COLUMNS and index.data[gadf_name].dtype.kind in "iu":
            index.data[gadf_name] = index.data[gadf_name].astype(str)  # EVENT_TYPE 0, 1 ... is a label
        default_unit = timeunit if gadf_name in _TIME_COLUMNS else None
        source = index.data[gadf_name]
        if (column.info.get("unit") and source.unit is None and source.dtype.kind in "biuf"
                and not (default_unit and "TIMEUNIT" in index.header)):  # fmt: skip
            unitless.append(f"{gadf_name} (taken as {default_unit or column.info['unit']})")
        columns[column.name] = _convert(index, gadf_name, column, default_unit)
        index.data.remove_column(gadf_name)  # converted: free it as we go
    if unitless:
        index.warnings.append(f"{index.path}: no unit (TUNIT) on column {', '.join(unitless)}")

    obs_id = columns["obs_id"]
    for name in ("ra_pnt_deg", "dec_pnt_deg", "tstart_s", "tstop_s"):
        if columns[name] is None:  # an absent pair: NULL, or (times) filled from the files by ingest
            columns[name] = np.full(len(obs_id), np.nan)
    _check_unique(index, obs_id)
    _check_finite(index, obs_id, columns)
    columns["ra_pnt_deg"] = np.mod(columns["ra_pnt_deg"], 360.0)
    columns["ux"], columns["uy"], columns["uz"], columns["sky_zone"] = sky_derived(
        columns["ra_pnt_deg"], columns["dec_pnt_deg"]
    )
    columns["extra"] = ExtraJson(index, len(obs_id))  # the columns left are non-standard
    return columns


def _require(index: gadf.IndexTable) -> None:
    index.require(REQUIRED_OBS_COLUMNS)
    for pair in PAIRED_OBS_COLUMNS:
        missing = [name for name in pair if name not in index.data.colnames]
        if len(missing) == 1:
            index.require(pair)
    if "RA_PNT" not in index.data.colnames and "OBS_MODE" not in index.data.colnames:
        raise InputError(f"{index.path}: missing required column RA_PNT, DEC_PNT (or OBS_MODE, for observations "
                         "without a sky pointing)")  # fmt: skip


def _convert(index: gadf.IndexTable, name: str, column: sa.Column, default_unit: str | None) -> np.ndarray:
    source = index.data[name]
    python_type = column.type.python_type
    if python_type is str:
        uniques, inverse = text_codes(index, name)  # also validates the UTF-8
        data = np.asarray(source)
        if data.dtype.kind == "S" and len(uniques) > len(data) // 8 and not _embedded_nul(data):
            return np.char.strip(data)  # mostly distinct (dates): bytes take a quarter of the memory
        return np.array([v.strip() for v in uniques], dtype=object)[inverse]
    if source.dtype.kind not in "biuf":
        raise InputError(f"{index.path}: column {name} holds {dtype_text(source.dtype)}, expected numbers")
    if source.ndim != 1:
        raise InputError(f"{index.path}: column {name} has shape {source.shape[1:]} per row, expected a scalar")
    values = np.array(source, dtype=float)
    mask = getattr(source, "mask", None)
    if mask is not None:
        values[np.asarray(mask)] = np.nan
    storage_unit = column.info.get("unit")
    if storage_unit is not None:
        unit = _parse_unit(source.unit) if source.unit is not None else default_unit
        if unit is not None:
            try:
                values = u.Quantity(values, unit, copy=False).to_value(
                    storage_unit or u.dimensionless_unscaled, equivalencies=u.temperature()
                )
            except (ValueError, TypeError, u.UnitsError):
                raise InputError(
                    f"{index.path}: column {name} has unit {str(unit)!r}, "
                    f"not convertible to {storage_unit or 'dimensionless'!r}"
                ) from None
    if python_type is int:
        finite = np.isfinite(values)
        if np.any(values[finite] != np.round(values[finite])):
            row = int(np.flatnonzero(finite & (values != np.round(values)))[0])
            raise InputError(f"{index.path}: row {row + 1}: column {name} value {values[row]!r} is not an integer")
        bits = 64 if isinstance(column.type, sa.BigInteger) else 32
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        exact = np.asarray(source) if source.dtype.kind in "iu" else values
        outside = ((exact < lo) | (exact > hi)) & finite
        if np.any(outside):
            row = int(np.flatnonzero(outside)[0])
            raise InputError(f"{index.path}: row {row + 1}: column {name} value {exact[row]} is outside the "
                             f"{bits}-bit integers obscat stores it in")  # fmt: skip
        if not np.all(finite):
            out = np.empty(len(values), dtype=object)
            out[finite] = values[finite].astype(np.int64)
            return out
        return np.asarray(source).astype(np.int64) if source.dtype.kind in "biu" else values.astype(np.int64)
    return values


def _embedded_nul(data: np.ndarray) -> bool:
    """Whether a fixed-width bytes column has a NUL before another byte (numpy drops only trailing NULs)."""
    if data.dtype.itemsize < 2 or data.ndim != 1:
        return False
    nonzero = np.ascontiguousarray(data).view(np.uint8).reshape(len(data), -1) != 0
    return bool(np.any(~nonzero[:, :-1] & nonzero[:, 1:]))


def _parse_unit(unit: u.UnitBase) -> u.UnitBase:
    """A FITS TUNIT the FITS unit grammar rejected, parsed by astropy's generic grammar
    (which knows e.g. ``deg_C``); left unrecognized if that fails too."""
    if isinstance(unit, u.UnrecognizedUnit):
        return u.Unit(unit.name.replace(" ", "_"), parse_strict="silent")
    return unit


def _check_unique(index: gadf.IndexTable, obs_id: np.ndarray) -> None:
    if obs_id.dtype == object:
        row = next(k for k, value in enumerate(obs_id) if value is None)
        raise InputError(f"{index.path}: row {row + 1}: OBS_ID is empty")
    uniques, first, counts = np.unique(obs_id, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = uniques[counts > 1][0]
        rows = np.flatnonzero(obs_id == dup)[:2] + 1
        raise InputError(f"{index.path}: duplicate OBS_ID {dup} in rows {rows[0]} and {rows[1]}")


def _check_finite(index: gadf.IndexTable, obs_id: np.ndarray, columns: dict[str, Any]) -> None:
    # A row may lack both RA_PNT and DEC_PNT if the index records OBS_MODE, and both TSTART and TSTOP
    # (NaN: ingest then reads them from the files); anything else non-finite is refused.
    no_pointing = np.isnan(columns["ra_pnt_deg"]) & np.isnan(columns["dec_pnt_deg"]) & (columns["obs_mode"] is not None)
    no_times = np.isnan(columns["tstart_s"]) & np.isnan(columns["tstop_s"])
    for name, column, unset in (("RA_PNT", "ra_pnt_deg", no_pointing), ("DEC_PNT", "dec_pnt_deg", no_pointing),
                                ("TSTART", "tstart_s", no_times), ("TSTOP", "tstop_s", no_times)):  # fmt: skip
        bad = ~np.isfinite(columns[column]) & ~unset
        if np.any(bad):
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{index.path}: row {row + 1} (OBS_ID {obs_id[row]}): {name} is {columns[column][row]}"
            )
    dec = columns["dec_pnt_deg"]
    bad = np.abs(dec) > 90
    if np.any(bad):
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{index.path}: row {row + 1} (OBS_ID {obs_id[row]}): DEC_PNT {dec[row]} is outside [-90, 90] deg")
    bad = columns["tstop_s"] < columns["tstart_s"]
    if np.any(bad):
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{index.path}: row {row + 1} (OBS_ID {obs_id[row]}): TSTOP is before TSTART")
    # NaN in an optional column means "not given" (stored as NULL); infinity or an impossible
    # value means a broken writer, and is refused
    for gadf_name, column in gadf_columns().items():
        values = columns.get(column.name)
        if values is None or values.dtype.kind != "f" or (gadf_name not in _RANGES and column.name in _CHECKED):
            continue
        lo, hi, unit = _RANGES.get(gadf_name, (-np.inf, np.inf, ""))
        with np.errstate(invalid="ignore"):
            bad = np.isinf(values) | (values < lo) | (values > hi)
        if np.any(bad):
            row = int(np.flatnonzero(bad)[0])
            what = f"is {values[row]}" if np.isinf(values[row]) else f"{values[row]} {unit} is outside [{lo:g}, {hi:g}]"
            raise InputError(f"{index.path}: row {row + 1} (OBS_ID {obs_id[row]}): {gadf_name} {what}")


#: Physical ranges (in storage units) of optional obs-index columns; values outside are refused.
_RANGES = {
    "DEC_OBJ": (-90.0, 90.0, "deg"), "GLAT_PNT": (-90.0, 90.0, "deg"), "ALT_PNT": (-90.0, 90.0, "deg"),
    "ZEN_PNT": (0.0, 180.0, "deg"), "ONTIME": (0.0, np.inf, "s"), "LIVETIME": (0.0, np.inf, "s"),
}  # fmt: skip
_CHECKED = ("ra_pnt_deg", "dec_pnt_deg", "tstart_s", "tstop_s")  # finite and checked above


class ExtraJson:
    """The ``extra`` column, built chunk by chunk from per-column JSON fragments.

    Each non-standard column is encoded once per distinct value; a row's JSON
    text is made only when its chunk is written, so a million rows never sit in
    memory as a million strings.
    """

    def __init__(self, index: gadf.IndexTable, n: int) -> None:
        self.n = n
        self.columns = [self._fragments(index, name, n) for name in index.data.colnames]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows) -> np.ndarray:
        if not self.columns:
            return np.full(len(np.arange(self.n)[rows]), "{}", dtype=object)
        parts = [fragments[inverse[rows]] for fragments, inverse in self.columns]
        text = parts[0]
        for part in parts[1:]:
            text = text + ", " + part
        return "{" + text + "}"

    @staticmethod
    def _fragments(index: gadf.IndexTable, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``'"NAME": {"value": v, "unit": "deg"}'`` per distinct value, and each row's value."""
        source = index.data[name]
        unit = None if source.unit is None else str(source.unit)
        prefix = json.dumps(name) + ': {"value": '
        suffix = (', "unit": ' + json.dumps(unit) + "}") if unit else "}"
        values: np.ndarray | list[Any]
        if source.dtype.kind in "SU" and source.ndim == 1:
            values, inverse = text_codes(index, name)
        else:
            data = np.asarray(source)
            flat = data.reshape(n, -1) if data.ndim > 1 else data
            uniques, inverse = np.unique(flat, axis=0 if data.ndim > 1 else None, return_inverse=True)
            values = [_json_value(v) for v in uniques.tolist()]
            inverse = inverse.reshape(-1)
            mask = getattr(source, "mask", None)
            if mask is not None and np.any(mask):
                values = [*values, None]
                inverse = np.where(np.asarray(mask).reshape(n, -1).any(axis=1), len(values) - 1, inverse)
        fragments = np.array([prefix + json.dumps(v, allow_nan=False) + suffix for v in values], dtype=object)
        return fragments, inverse


def _json_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return json_safe(value)
