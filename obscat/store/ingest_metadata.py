"""What ingest derives from the index tables before writing: the ``data_store`` row (header
metadata, time reference and site, from the EVENTS header when the obs index lacks them) and the
observations' absolute times."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import erfa
import numpy as np

from .._version import __version__
from ..errors import InputError, one_line
from ..gadf import index as gadf
from ..gadf._gzip import GZIP_ERRORS
from ..gadf.files import check_regular_file
from ..gadf.fits import read_header
from ..gadf.hdu_columns import HduColumns
from ..gadf.header import header_text
from ..gadf.times import absolute_times
from ..text import plural

if TYPE_CHECKING:
    from .ingest import IngestReport

__all__ = ["store_row", "absolute_observation_times"]

#: What reading a damaged or unreadable EVENTS header raises.
_UNREADABLE: tuple[type[Exception], ...] = (OSError, ValueError, *GZIP_ERRORS)


def store_row(name: str, obs_table: gadf.IndexTable, hdu_table: gadf.IndexTable, digests: tuple[str, str],
              hdus: HduColumns, report: IngestReport) -> tuple[dict[str, Any], gadf.TimeReference | None]:  # fmt: skip
    """The ``data_store`` row; header metadata missing from the obs index is
    taken from the EVENTS header of its first observation (GADF puts it there too)."""
    header = obs_table.header
    tref = gadf.time_reference(obs_table)
    site = gadf.site_location(obs_table)
    events = None
    if tref is None or site.geolon_deg is None or "TELESCOP" not in header:
        events = _first_events_header(hdus, report)
    if events is not None:
        events_index, source = events
        if tref is None:
            tref = gadf.time_reference(events_index)
            if tref is not None:
                tref.source = source
                report.warnings.append(f"{obs_table.path.name} has no MJDREFI/MJDREFF: time reference taken from {source}")
        if site.geolon_deg is None:
            site = gadf.site_location(events_index)
        header = events_index.header if "TELESCOP" not in header else header
    if tref is None:
        report.warnings.append(f"{obs_table.path.name} has no time reference (MJDREFI/MJDREFF): absolute times are NULL")
    return {
        "name": name,
        "root_path": str(obs_table.path.resolve().parent),
        "obs_index_path": str(obs_table.path.resolve()),
        "obs_index_sha256": digests[0],
        "hdu_index_path": str(hdu_table.path.resolve()),
        "hdu_index_sha256": digests[1],
        "hduvers": header_text(obs_table.header, "HDUVERS"),
        "telescope": header_text(header, "TELESCOP"),
        "instrument": header_text(header, "INSTRUME"),
        "geolon_deg": site.geolon_deg,
        "geolat_deg": site.geolat_deg,
        "altitude_m": site.altitude_m,
        "mjdrefi": tref.mjdrefi if tref else None,
        "mjdreff": tref.mjdreff if tref else None,
        "timesys": tref.timesys if tref else None,
        "timeunit": tref.timeunit if tref else None,
        "timeref": tref.timeref if tref else None,
        "time_reference_source": tref.source if tref else None,
        "header": {"obs_index": obs_table.header_dict(), "hdu_index": hdu_table.header_dict()},
        "ingested_at": dt.datetime.now(dt.UTC),
        "obscat_version": __version__,
    }, tref


def _first_events_header(hdus: HduColumns, report: IngestReport) -> tuple[gadf.IndexTable, str] | None:
    rows = np.flatnonzero(hdus.hdu_type == "events")
    names, name_codes = hdus.hdu_name
    for row in rows[:1]:
        path = hdus.paths[hdus.file_index[row]]
        try:
            check_regular_file(path)  # never open a FIFO or a device
            header = read_header(path, names[name_codes[row]]).header
        except InputError as exc:
            report.warnings.append(f"cannot read EVENTS header of OBS_ID {hdus.obs_id[row]}: {exc}")
            return None
        except _UNREADABLE as exc:
            report.warnings.append(f"cannot read EVENTS header of OBS_ID {hdus.obs_id[row]} in {path}: {one_line(exc)}")
            return None
        source = f"EVENTS header of OBS_ID {hdus.obs_id[row]}"
        return gadf.IndexTable(path=Path(path), header=header, table=None), source
    return None


def absolute_observation_times(tref: gadf.TimeReference | None, columns: dict[str, Any], obs_table: gadf.IndexTable,
                               report: IngestReport) -> dict[str, Any]:  # fmt: skip
    """``tstart``/``tstop``/``tmid`` as MJD and UTC of every observation (NULL without a time reference
    or without times); times outside the years 1 to 9999 are an error."""
    names = [f"{t}_{k}" for t in ("tstart", "tstop", "tmid") for k in ("mjd", "utc")]
    if tref is None:
        return dict.fromkeys(names)
    for name in ("TSTART", "TSTOP"):
        mjd = tref.mjdrefi + tref.mjdreff + columns[f"{name.lower()}_s"] / 86400.0
        outside = (mjd < _MJD_YEAR_1) | (mjd >= _MJD_YEAR_10000)
        if np.any(outside):
            row = int(np.flatnonzero(outside)[0])
            raise InputError(f"{obs_table.path}: row {row + 1} (OBS_ID {columns['obs_id'][row]}): {name} "
                             f"{columns[f'{name.lower()}_s'][row]:g} s after MJDREF is MJD {mjd[row]:.6g}, "
                             "outside the years 1 to 9999")  # fmt: skip
    known = np.isfinite(columns["tstart_s"])  # NULL times (no TSTART/TSTOP anywhere) stay NULL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year": reported below, on one line
        times = absolute_times(tref, columns["tstart_s"][known], columns["tstop_s"][known])
    if not np.all(known):
        times = {name: _scatter(values, known) for name, values in times.items()}
    with np.errstate(invalid="ignore"):
        early = times["tstart_mjd"] < _MJD_UTC_START
    if np.any(early):
        row, n_early = int(np.flatnonzero(early)[0]), int(early.sum())
        report.warnings.append(
            f"{obs_table.path}: {plural(n_early, 'observation')} start{'s' if n_early == 1 else ''} before 1960, "
            "where UTC is undefined (first: "
            f"row {row + 1}, OBS_ID {columns['obs_id'][row]}, {_text(times['tstart_utc'][row])}): their UTC "
            "times are approximate"
        )
    return times


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _scatter(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``values`` of the ``known`` rows spread over all rows, the others NaN (numbers) or None (text)."""
    if values.dtype.kind == "f":
        out = np.full(len(known), np.nan)
    else:
        out = np.full(len(known), None, dtype=object)
        values = np.char.decode(values, "ascii")
    out[known] = values
    return out


_MJD_YEAR_1, _MJD_YEAR_10000 = -678575.0, 2973484.0  # 0001-01-01 and 10000-01-01
_MJD_UTC_START = 36934.0  # 1960-01-01: ERFA's leap-second table (and UTC) begins there
