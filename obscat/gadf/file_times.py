"""Observation times from the data files, for obs indexes without TSTART/TSTOP.

Ground-array indexes (HAWC, SWGO, LHAASO-style) often give no times.  Gammapy
then takes them from the GTI table (``Observation.tstart`` is the first START,
``tstop`` the last STOP); obscat does the same, and falls back to the EVENTS
header's TSTART/TSTOP when there is no GTI HDU.  Times are read in seconds
relative to the file's own MJDREF, which GADF requires to be the store's.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u

from ._gzip import GZIP_ERRORS
from .fits import FitsError, read_header, read_tables
from .hdu_columns import HduColumns

__all__ = ["fill_times_from_files"]


def fill_times_from_files(columns: dict, hdus: HduColumns, notes: list[str]) -> None:
    """Set ``tstart_s``/``tstop_s`` of the observations that lack both (NaN) from their
    GTI HDU, else their EVENTS header; those found in neither stay NaN (stored NULL),
    and ``notes`` says how many came from where."""
    obs_id = columns["obs_id"]
    todo = np.flatnonzero(np.isnan(columns["tstart_s"]) & np.isnan(columns["tstop_s"]))
    if not len(todo):
        return
    names, name_codes = hdus.hdu_name
    first_row: dict[tuple[int, str], int] = {}
    for i in range(len(hdus.obs_id) - 1, -1, -1):  # backwards: the first row of a type wins, as in Gammapy
        first_row[(int(hdus.obs_id[i]), hdus.hdu_type[i])] = i
    cache: dict[tuple[str, str, str], tuple[float, float] | None] = {}
    found = {"gti": 0, "events": 0}
    for k in todo:
        for hdu_type in ("gti", "events"):
            row = first_row.get((int(obs_id[k]), hdu_type))
            if row is None:
                continue
            key = (hdus.paths[hdus.file_index[row]], str(names[name_codes[row]]), hdu_type)
            if key not in cache:
                cache[key] = _read_times(*key)
            times = cache[key]
            if times is not None:
                columns["tstart_s"][k], columns["tstop_s"][k] = times
                found[hdu_type] += 1
                break
    missing = len(todo) - sum(found.values())
    text = f"{len(todo)} observations have no TSTART/TSTOP in the obs index: {found['gti']} taken from their GTI, " \
           f"{found['events']} from their EVENTS header"
    if missing:
        first = obs_id[todo[np.isnan(columns["tstart_s"][todo])][0]]
        text += f", {missing} have no times (NULL; first: OBS_ID {first})"
    notes.append(text)


def _read_times(path: str, extname: str, hdu_type: str) -> tuple[float, float] | None:
    """(start, stop) in seconds of a GTI table (first START, last STOP) or an EVENTS
    header (TSTART, TSTOP); None if the HDU is absent, empty or unreadable."""
    try:
        if hdu_type == "events":
            header = read_header(path, extname).header
            start, stop = header.get("TSTART"), header.get("TSTOP")
            if start is None or stop is None:
                return None
            return _seconds(float(start), header), _seconds(float(stop), header)
        gti = read_tables(path, {extname}).get(extname.upper())
        if gti is None or isinstance(gti, FitsError) or len(gti.rows) == 0:
            return None
        start, stop = np.asarray(gti.rows["START"], float), np.asarray(gti.rows["STOP"], float)
        return _seconds(float(start[0]), gti.header), _seconds(float(stop[-1]), gti.header)
    except (OSError, KeyError, IndexError, ValueError, TypeError) + GZIP_ERRORS:
        return None


def _seconds(value: float, header: dict) -> float:
    unit = str(header.get("TIMEUNIT", "s")).strip() or "s"
    return float(u.Quantity(value, unit).to_value(u.s))
