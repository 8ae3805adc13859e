"""ObsCore rows (``obscat obscore export``'s file, a TAP result) as a GADF data store, without the catalogue.

:func:`datastore_from_obscore` finds each row's events file from its ``access_url``, reads the
headers of every HDU in it (:func:`obscat.gadf.fits.read_headers`, data skipped) and writes an obs
index (from the EVENTS header) and an HDU index (HDU_TYPE and HDU_CLASS from the HDUCLAS1/2/4
keywords as GADF defines them, HDU_NAME the EXTNAME) pointing at the files where they are, so
that Gammapy's ``DataStore.from_dir`` opens them.  Nothing is fetched over the network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import numpy as np

from ..errors import InputError, ParameterError, one_line
from ..gadf._gzip import GZIP_ERRORS
from ..gadf.files import check_regular_file
from ..gadf.fits import FitsError, read_headers
from ..gadf.header import header_number, header_text
from ..gadf.index import IndexTable, TimeReference, site_location, time_reference
from .export import check_target, staged_directory, write_fits_gz
from .index_tables import INDEX_HEADER, nullable_column, obs_header

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["datastore_from_obscore", "hdu_kind"]

#: HDUCLAS1 of the HDUs that are not responses -> their HDU_TYPE (and HDU_CLASS).
_PLAIN = {"EVENTS": "events", "GTI": "gti", "POINTING": "pointing"}
#: A RESPONSE's HDUCLAS2 -> its HDU_TYPE and the HDU_CLASS values (HDUCLAS4, lower case) GADF gives it.
_RESPONSES = {
    "EFF_AREA": ("aeff", ("aeff_2d",)),
    "EDISP": ("edisp", ("edisp_2d",)),
    "RPSF": ("psf", ("psf_table", "psf_3gauss", "psf_king")),
    "BKG": ("bkg", ("bkg_2d", "bkg_3d")),
    "RAD_MAX": ("rad_max", ("rad_max_2d",)),
}
#: EVENTS header keyword -> unit of the obs-index column of that name (None: a number without unit).
_NUMBERS = {"RA_PNT": "deg", "DEC_PNT": "deg", "ALT_PNT": "deg", "AZ_PNT": "deg", "ONTIME": "s",
            "LIVETIME": "s", "DEADC": None}  # fmt: skip
_TEXTS = ("OBJECT", "OBS_MODE")


def hdu_kind(header: Mapping[str, Any]) -> tuple[str, str] | None:
    """(HDU_TYPE, HDU_CLASS) of an HDU from its HDUCLAS1/HDUCLAS2/HDUCLAS4 keywords, None for an HDU
    GADF does not classify (the primary, another instrument's table, an unknown response)."""
    clas1 = (header_text(header, "HDUCLAS1") or "").upper()
    if clas1 in _PLAIN:
        return _PLAIN[clas1], _PLAIN[clas1]
    hdu_type, classes = _RESPONSES.get((header_text(header, "HDUCLAS2") or "").upper(), (None, ()))
    hdu_class = (header_text(header, "HDUCLAS4") or "").lower()
    return (hdu_type, hdu_class) if clas1 == "RESPONSE" and hdu_type and hdu_class in classes else None


@dataclass(frozen=True)
class _Observation:
    """A row's events file: where (``where`` names the row in errors), its OBS_ID, time reference,
    obs-index cells and header values (:func:`obs_header`'s "store") from its EVENTS header, and its
    classified HDUs (HDU_TYPE, HDU_CLASS, EXTNAME) in file order."""

    where: str
    path: str
    obs_id: int
    time: TimeReference
    cells: dict[str, Any]
    store: dict[str, Any]
    hdus: list[tuple[str, str, str]]


def datastore_from_obscore(rows: Table | str | os.PathLike[str], directory: str | os.PathLike[str], *,
                           mirror: Mapping[str, str | os.PathLike[str]] | None = None) -> Path:  # fmt: skip
    """Write a GADF data store of ObsCore ``rows`` into ``directory`` (absent or empty) and return it.

    ``rows`` is an astropy Table or a file astropy reads (VOTable, ECSV, FITS, CSV) with an
    ``access_url`` column: each row's events file, a ``file://`` URL or, through ``mirror``, a
    local copy of a served one.  ``mirror`` maps URL prefixes to local directories
    (``{"https://data.example.org/hess/": "/data/hess"}``): the rest of the URL, percent-decoded,
    is the path under the directory (the longest matching prefix wins).  Every HDU of each file is
    listed in ``hdu-index.fits.gz`` by absolute path (no copies); ``obs-index.fits.gz`` holds the
    EVENTS headers' OBS_ID, pointing, times, livetime and object, with their time reference.  A
    row's ``obs_id``, where it is an integer or its digits, must be its file's OBS_ID.  Errors name
    the row and the file, and nothing is written.
    """
    directory = Path(directory)
    table = _read_rows(rows)
    prefixes = _prefixes(mirror)
    check_target(directory)
    observations = [_observation(number, row, prefixes) for number, row in enumerate(table, 1)]
    _check_together(observations)
    obs_index, hdu_index = _obs_index(observations), _hdu_index(observations)
    with staged_directory(directory) as tmp:
        write_fits_gz(obs_index, tmp / "obs-index.fits.gz")
        write_fits_gz(hdu_index, tmp / "hdu-index.fits.gz")
    return directory


def _read_rows(rows) -> Table:
    from astropy.table import Table

    if not isinstance(rows, Table):
        try:
            rows = Table.read(os.fspath(rows))
        except FileNotFoundError:
            raise InputError(f"{rows}: file not found") from None
        except Exception as exc:  # astropy raises many kinds for what it cannot read
            raise InputError(f"{rows}: not a table astropy reads ({one_line(exc)})") from None
    if "access_url" not in rows.colnames:
        raise ParameterError(f"`rows` has no access_url column (columns: {', '.join(rows.colnames[:10])})")
    if not len(rows):
        raise ParameterError("`rows` holds no row")
    return rows


def _prefixes(mirror: Mapping[str, str | os.PathLike[str]] | None) -> list[tuple[str, str]]:
    """(URL prefix ending in /, absolute local directory), longest prefix first."""
    prefixes = []
    for prefix, local in (mirror or {}).items():
        if not isinstance(prefix, str) or not prefix:
            raise ParameterError(f"`mirror` maps {prefix!r}: a URL prefix must be non-empty text")
        if not os.path.isdir(local):
            raise ParameterError(f"`mirror` maps {prefix!r} to {os.fspath(local)}, not a directory")
        prefixes.append((prefix.rstrip("/") + "/", os.path.abspath(local)))
    return sorted(prefixes, key=lambda p: -len(p[0]))


def _cell(row, name: str):
    """The row's value of column ``name``, None when the column is absent or the cell masked or empty."""
    if name not in row.colnames or np.ma.is_masked(row[name]):
        return None
    value = row[name]
    value = value.decode() if isinstance(value, bytes) else value
    return None if isinstance(value, str) and not value.strip() else value


def _local_path(where: str, url: str, prefixes: list[tuple[str, str]]) -> str:
    """The local file of ``url``: through the first matching mirror prefix, else a ``file://`` URL's path."""
    for prefix, local in prefixes:
        if url.startswith(prefix):
            rest = unquote(url[len(prefix):])
            if ".." in PurePosixPath(rest).parts:
                raise InputError(f"{where}: access_url {url!r} climbs out of the mirror directory ('..')")
            return os.path.join(local, rest.lstrip("/"))
    parsed = urlparse(url)
    if parsed.scheme.lower() == "file" and parsed.netloc in ("", "localhost"):
        return unquote(parsed.path)
    raise ParameterError(f"{where}: access_url {url!r} is not a local file:// URL and no `mirror` prefix matches it")


def _observation(number: int, row, prefixes: list[tuple[str, str]]) -> _Observation:
    """Row ``number`` (from 1): its events file found, its HDUs classified."""
    row_id = _cell(row, "obs_id")
    where = f"row {number}" + ("" if row_id is None else f" (obs_id {row_id})")
    url = _cell(row, "access_url")
    if url is None:
        raise InputError(f"{where}: no access_url")
    path = os.path.abspath(_local_path(where, str(url).strip(), prefixes))
    try:
        check_regular_file(path)
        headers = read_headers(path)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    except (FitsError, OSError) + GZIP_ERRORS as exc:
        raise InputError(f"{where}: {path}: unreadable FITS file ({one_line(exc)})") from None
    hdus, events = [], None
    for header in headers:
        kind, name = hdu_kind(header), header_text(header, "EXTNAME")
        if kind is not None and name:
            hdus.append((*kind, name))
            events = header if events is None and kind[0] == "events" else events
    if events is None:
        raise InputError(f"{where}: {path}: no EVENTS HDU (HDUCLAS1 = 'EVENTS')")
    try:
        obs_id, time, cells, store = _events_header(Path(path), events)
    except InputError as exc:
        raise InputError(f"{where}: {exc} (in its EVENTS header)") from None
    if isinstance(row_id, (int, np.integer)) or (isinstance(row_id, str) and row_id.strip().isdigit()):
        if int(row_id) != obs_id:
            raise InputError(f"{where}: {path} holds OBS_ID {obs_id}, not the row's")
    return _Observation(where, path, obs_id, time, cells, {"name": where, **store}, hdus)


def _events_header(path: Path, header: dict) -> tuple[int, TimeReference, dict[str, Any], dict[str, Any]]:
    """OBS_ID, time reference, obs-index cells (None where absent; times in s) and the time
    reference, telescope and site by :func:`obs_header`'s names, from an EVENTS header."""
    import astropy.units as u

    obs_id = header_number(header, "OBS_ID", path)
    if obs_id != int(obs_id):
        raise InputError(f"{path}: OBS_ID {obs_id} is not an integer")
    index = IndexTable(path, header, None)
    time = time_reference(index)
    if time is None:
        raise InputError(f"{path}: no MJDREFI nor MJDREF")
    seconds = u.Unit(time.timeunit).to(u.s)
    cells: dict[str, Any] = {key: header_number(header, key, path, None) for key in ("TSTART", "TSTOP", *_NUMBERS)}
    cells.update({key: None if cells[key] is None else cells[key] * seconds for key in ("TSTART", "TSTOP")})
    cells.update({key: header_text(header, key) for key in _TEXTS})
    cells["EVENT_COUNT"] = int(header["NAXIS2"])
    store = {"mjdrefi": time.mjdrefi, "mjdreff": time.mjdreff, "timesys": time.timesys.upper(), "timeref": time.timeref,
             "telescope": header_text(header, "TELESCOP"), "instrument": header_text(header, "INSTRUME"),
             **asdict(site_location(index))}  # fmt: skip
    return int(obs_id), time, cells, store


def _check_together(observations: list[_Observation]) -> None:
    """One GADF index: distinct OBS_IDs, one time reference."""
    seen: dict[int, _Observation] = {}
    first = observations[0]
    for obs in observations:
        other = seen.setdefault(obs.obs_id, obs)
        if other is not obs:
            raise InputError(f"{obs.where}: {obs.path}: OBS_ID {obs.obs_id} is also {other.where}'s ({other.path}); "
                             "a GADF index needs distinct OBS_IDs")  # fmt: skip
        if _reference(obs.time) != _reference(first.time):
            raise InputError(f"{obs.where}: {obs.path}: time reference {_describe(obs.time)} differs from "
                             f"{first.where}'s {_describe(first.time)}; a GADF index has one")  # fmt: skip


def _reference(time: TimeReference) -> tuple:
    return time.mjdrefi, time.mjdreff, time.timesys.upper()


def _describe(time: TimeReference) -> str:
    return f"MJDREF {time.mjdrefi} + {time.mjdreff!r} {time.timesys}"


def _obs_index(observations: list[_Observation]) -> Table:
    """OBS_ID and the EVENTS headers' pointing, times (s since MJDREF), livetime, object and event count
    (columns absent from every header left out); the header: the time reference, and telescope and site
    where the files agree."""
    from astropy.table import Table

    table = Table()
    table["OBS_ID"] = np.array([obs.obs_id for obs in observations], dtype=np.int64)
    units = {"TSTART": "s", "TSTOP": "s", **_NUMBERS}
    for key in observations[0].cells:
        column = nullable_column(tuple(obs.cells[key] for obs in observations), units.get(key))
        if column is not None:
            table[key] = column
    table.meta.update(obs_header("the rows", table["OBS_ID"].data, [obs.store for obs in observations]))
    return table


def _hdu_index(observations: list[_Observation]) -> Table:
    """Every classified HDU of each row's file, FILE_DIR absolute."""
    from astropy.table import Table

    rows = [(obs.obs_id, hdu_type, hdu_class, os.path.dirname(obs.path), os.path.basename(obs.path), name)
            for obs in observations for hdu_type, hdu_class, name in obs.hdus]  # fmt: skip
    names = ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")
    table = Table(rows=rows, names=names, dtype=(np.int64, str, str, str, str, str))
    table.meta.update({"EXTNAME": "HDU_INDEX", **INDEX_HEADER, "HDUCLAS2": "HDU"})
    return table
