"""GADF index tables → whole columns in the catalogue's storage units.

:func:`observation_columns` turns an obs index into one array per
``observation`` column (units converted, values checked, derived sky
columns added); :func:`hdu_columns` turns an HDU index into arrays with its
file paths resolved.  Nothing here touches the database.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from astropy import units as u

from . import gadf
from .errors import InputError
from .models import gadf_columns, sky_derived

__all__ = [
    "REQUIRED_OBS_COLUMNS",
    "ExtraJson",
    "HduColumns",
    "observation_columns",
    "hdu_columns",
    "read_hdu_index",
    "check_hdu_observations",
]

REQUIRED_OBS_COLUMNS = ("OBS_ID", "RA_PNT", "DEC_PNT", "TSTART", "TSTOP")
_TIME_COLUMNS = ("TSTART", "TSTOP", "EVENT_TIME_MIN", "EVENT_TIME_MAX")


def observation_columns(index: gadf.IndexTable) -> dict[str, Any]:
    """Column name → array (or None for all-NULL) for every ``observation`` column."""
    index.require(REQUIRED_OBS_COLUMNS)
    if index.n_rows == 0:
        raise InputError(f"{index.path}: the observation index has no rows")
    timeunit = str(index.header.get("TIMEUNIT", "s")).strip() or "s"
    columns: dict[str, Any] = {}
    for gadf_name, column in gadf_columns().items():
        if column.name in columns and columns[column.name] is not None:
            continue  # filled from an earlier spelling
        if gadf_name not in index.table.colnames:
            columns.setdefault(column.name, None)
            continue
        default_unit = timeunit if gadf_name in _TIME_COLUMNS else None
        columns[column.name] = _convert(index, gadf_name, column, default_unit)
        index.table.remove_column(gadf_name)  # converted: free it as we go

    obs_id = columns["obs_id"]
    _check_unique(index, obs_id)
    _check_finite(index, obs_id, columns)
    columns["ra_pnt_deg"] = np.mod(columns["ra_pnt_deg"], 360.0)
    columns["ux"], columns["uy"], columns["uz"], columns["sky_zone"] = sky_derived(
        columns["ra_pnt_deg"], columns["dec_pnt_deg"]
    )
    columns["extra"] = ExtraJson(index, len(obs_id))  # the columns left are non-standard
    return columns


def _convert(index: gadf.IndexTable, name: str, column: sa.Column, default_unit: str | None) -> np.ndarray:
    source = index.table[name]
    python_type = column.type.python_type
    if python_type is str:
        uniques, inverse = gadf.text_codes(index, name)  # also validates the UTF-8
        data = np.asarray(source)
        if data.dtype.kind == "S" and len(uniques) > len(data) // 8:
            return np.char.strip(data)  # mostly distinct (dates): bytes take a quarter of the memory
        return np.array([v.strip() for v in uniques], dtype=object)[inverse]
    if source.dtype.kind not in "biuf":
        raise InputError(f"{index.path}: column {name} holds {source.dtype} values, expected numbers")
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
        if not np.all(finite):
            out = np.empty(len(values), dtype=object)
            out[finite] = values[finite].astype(np.int64)
            return out
        return np.asarray(source).astype(np.int64) if source.dtype.kind in "biu" else values.astype(np.int64)
    return values


def _parse_unit(unit: u.UnitBase) -> u.UnitBase:
    """A FITS TUNIT the FITS unit grammar rejected, parsed by astropy's generic grammar
    (which knows e.g. ``deg_C``); left unrecognized if that fails too."""
    if isinstance(unit, u.UnrecognizedUnit):
        return u.Unit(unit.name.replace(" ", "_"), parse_strict="silent")
    return unit


def _check_unique(index: gadf.IndexTable, obs_id: np.ndarray) -> None:
    if obs_id.dtype == object:
        row = int(np.flatnonzero(np.equal(obs_id, None))[0])
        raise InputError(f"{index.path}: row {row + 1}: OBS_ID is empty")
    uniques, first, counts = np.unique(obs_id, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = uniques[counts > 1][0]
        rows = np.flatnonzero(obs_id == dup)[:2] + 1
        raise InputError(f"{index.path}: duplicate OBS_ID {dup} in rows {rows[0]} and {rows[1]}")


def _check_finite(index: gadf.IndexTable, obs_id: np.ndarray, columns: dict[str, Any]) -> None:
    for name, column in (("RA_PNT", "ra_pnt_deg"), ("DEC_PNT", "dec_pnt_deg"),
                         ("TSTART", "tstart_s"), ("TSTOP", "tstop_s")):  # fmt: skip
        bad = ~np.isfinite(columns[column])
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


class ExtraJson:
    """The ``extra`` column, built chunk by chunk from per-column JSON fragments.

    Each non-standard column is encoded once per distinct value; a row's JSON
    text is made only when its chunk is written, so a million rows never sit in
    memory as a million strings.
    """

    def __init__(self, index: gadf.IndexTable, n: int) -> None:
        self.n = n
        self.columns = [self._fragments(index, name, n) for name in index.table.colnames]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows) -> np.ndarray:
        if not self.columns:
            return np.full(len(np.arange(self.n)[rows]), "{}", dtype=object)
        text = None
        for fragments, inverse in self.columns:
            part = fragments[inverse[rows]]
            text = part if text is None else text + ", " + part
        return "{" + text + "}"

    @staticmethod
    def _fragments(index: gadf.IndexTable, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``'"NAME": {"value": v, "unit": "deg"}'`` per distinct value, and each row's value."""
        source = index.table[name]
        unit = None if source.unit is None else str(source.unit)
        prefix = json.dumps(name) + ': {"value": '
        suffix = (', "unit": ' + json.dumps(unit) + "}") if unit else "}"
        if source.dtype.kind in "SU" and source.ndim == 1:
            values, inverse = gadf.text_codes(index, name)
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
    return gadf.json_safe(value)


@dataclass
class HduColumns:
    """The HDU index as whole columns; text columns as (distinct values, codes)."""

    obs_id: np.ndarray
    hdu_type: np.ndarray
    hdu_class: np.ndarray
    hdu_name: tuple[np.ndarray, np.ndarray]
    size: np.ma.MaskedArray | None
    file_index: np.ndarray
    paths: list[str]
    exists: list[bool]


def read_hdu_index(path: Path) -> tuple[gadf.IndexTable, HduColumns]:
    index = gadf.read_index(path)
    return index, hdu_columns(index)


def check_hdu_observations(index: gadf.IndexTable, hdus: HduColumns, obs_ids: np.ndarray) -> None:
    unknown = ~np.isin(hdus.obs_id, obs_ids)
    if np.any(unknown):
        row = int(np.flatnonzero(unknown)[0])
        raise InputError(f"{index.path}: row {row + 1}: OBS_ID {hdus.obs_id[row]} is not in the observation index")


def hdu_columns(index: gadf.IndexTable) -> HduColumns:
    hdu_type, hdu_class = gadf.check_hdu_index(index)
    source_ids = index.table["OBS_ID"]
    if source_ids.dtype.kind not in "iu":
        raise InputError(f"{index.path}: column OBS_ID holds {source_ids.dtype} values, expected integers")
    hdu_obs = np.asarray(source_ids, dtype=np.int64)
    names, name_codes = gadf.text_codes(index, "HDU_NAME")
    size = None
    if "SIZE" in index.table.colnames:
        column = index.table["SIZE"]
        if column.dtype.kind not in "iu" or column.ndim != 1:
            raise InputError(f"{index.path}: column SIZE holds {column.dtype} values, expected integers")
        size = np.ma.MaskedArray(np.asarray(column, dtype=np.int64), mask=getattr(column, "mask", False))
    file_index, paths = gadf.resolve_file_paths(index)
    return HduColumns(
        obs_id=hdu_obs,
        hdu_type=hdu_type,
        hdu_class=hdu_class,
        hdu_name=(np.array([v.strip() for v in names], dtype=object), name_codes),
        size=size,
        file_index=file_index,
        paths=paths,
        exists=[os.path.isfile(p) for p in paths],
    )
