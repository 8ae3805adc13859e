"""Reading GADF index tables (obs index, HDU index) with validation.

Everything here works on whole columns (numpy arrays), never row by row, so
that an index of a million rows reads in seconds.  Errors are
:class:`~obscat.errors.InputError` naming the file, column and row (rows are
counted from 1, as in FITS viewers).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from ..errors import InputError, ParameterError, one_line
from ._gzip import GZIP_ERRORS, gzip
from .files import open_file
from .header import header_number, header_quantity
from .text_codes import json_safe, text_codes

__all__ = [
    "HDU_TYPES",
    "HDU_CLASSES",
    "IndexTable",
    "TimeReference",
    "find_index_files",
    "read_index",
    "time_reference",
    "site_location",
    "resolve_file_paths",
    "check_hdu_index",
    "MAX_PATH_BYTES",
]

HDU_TYPES = ("events", "gti", "aeff", "edisp", "psf", "bkg", "rad_max", "pointing")
HDU_CLASSES = (
    "events", "gti", "pointing", "aeff_2d", "edisp_2d", "psf_table", "psf_3gauss",
    "psf_king", "bkg_2d", "bkg_3d", "rad_max_2d", "psf_map", "psf_map_reco", "edisp_map", "edisp_kernel_map",
    "map",
)  # fmt: skip
HDU_INDEX_COLUMNS = ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")
#: Longest resolved file path stored: PostgreSQL's unique index on (store, path) holds at most
#: about 2.7 kB per entry, and no real file system path comes near this.
MAX_PATH_BYTES = 2048

# Header keywords that describe the table layout rather than the data store.
_STRUCTURAL = ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "EXTNAME")
_STRUCTURAL_PREFIXES = ("NAXIS", "TTYPE", "TFORM", "TUNIT", "TDIM", "TNULL", "TSCAL", "TZERO", "TDISP")
_TIME_SCALES = {"tt": "tt", "utc": "utc", "tai": "tai", "tdb": "tdb", "tcg": "tcg", "tcb": "tcb", "ut1": "ut1"}


@dataclass
class IndexTable:
    """The first binary table of an index file, as whole columns."""

    path: Path
    header: fits.Header | dict  # a dict when read by obscat.gadf.header (an EVENTS header standing in)
    table: Table | None  # None when only a header was read, or once ingest has converted the columns
    warnings: list[str] = field(default_factory=list)  # accepted oddities, reported by ingest

    @property
    def data(self) -> Table:
        """The table, which must be there (not freed, not a header alone)."""
        if self.table is None:
            raise RuntimeError(f"{self.path}: the index table is not loaded")
        return self.table

    @property
    def n_rows(self) -> int:
        return len(self.data)

    def require(self, names: tuple[str, ...]) -> None:
        missing = [name for name in names if name not in self.data.colnames]
        if missing:
            raise InputError(f"{self.path}: missing required column {', '.join(missing)}")

    def header_dict(self) -> dict[str, Any]:
        """Non-structural header keywords, JSON-safe (COMMENT/HISTORY as lists)."""
        out: dict[str, Any] = {}
        header = self.header
        cards = header.items() if isinstance(header, dict) else ((card.keyword, card.value) for card in header.cards)
        for key, value in cards:
            if not key or key in _STRUCTURAL or key.startswith(_STRUCTURAL_PREFIXES):
                continue
            if key in ("COMMENT", "HISTORY"):
                out.setdefault(key, []).append(str(value))
            elif isinstance(value, (bool, int, float, str)):
                out[key] = json_safe(value)
            else:
                out[key] = str(value)
        return out


@dataclass
class TimeReference:
    """MJDREF/TIMESYS/TIMEUNIT of a store, and where they were found."""

    mjdrefi: int
    mjdreff: float
    timesys: str
    timeunit: str
    timeref: str | None
    source: str

    @property
    def scale(self) -> str:
        return _TIME_SCALES[self.timesys.lower()]


@dataclass
class Site:
    geolon_deg: float | None = None
    geolat_deg: float | None = None
    altitude_m: float | None = None


def find_index_files(path: Path) -> tuple[Path, Path]:
    """The ``obs-index.fits[.gz]`` and ``hdu-index.fits[.gz]`` of directory ``path``."""
    if not path.exists():
        raise InputError(f"{path}: no such directory")
    if not path.is_dir():
        raise ParameterError(f"{path}: not a directory (pass `obs_index` and `hdu_index` for files)")
    found = []
    for stem in ("obs-index", "hdu-index"):
        candidates = [path / f"{stem}.fits.gz", path / f"{stem}.fits"]
        existing = [c for c in candidates if os.path.lexists(c)]  # a broken link is named below, not skipped
        if not existing:
            raise InputError(f"{path}: no {stem}.fits.gz or {stem}.fits in this directory")
        found.append(existing[0])
    return found[0], found[1]


def read_index(path: Path, extname: str | None = None) -> IndexTable:
    """Read the binary table ``extname`` of a (possibly gzipped) FITS index file: else
    its only binary table, or the first of several (with a warning).

    The file is decompressed as it is read, straight into the table's arrays.
    """
    opener = _opener(path)
    try:
        with opener(path, "rb") as stream:
            head = stream.read(9)
    except (OSError,) + GZIP_ERRORS as exc:
        raise InputError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    if head != b"SIMPLE  =":
        raise InputError(f"{path}: empty file (0 bytes)" if not head else f"{path}: not a FITS file")
    notes = []
    try:
        with warnings.catch_warnings():  # not thread-safe: only to silence, never to record
            warnings.simplefilter("ignore")  # unit strings are checked column by column later
            with opener(path, "rb") as stream, fits.open(stream, character_as_bytes=True) as hdul:
                tables = [h for h in hdul if isinstance(h, fits.BinTableHDU)]
                if not tables:
                    raise InputError(_no_table(path, opener))
                hdu = next((h for h in tables if h.name.strip().upper() == extname), tables[0])
                if extname is not None and hdu.name.strip().upper() != extname and len(tables) > 1:
                    # one table is the index whatever its name (MAGIC's HDU index is called OBS_INDEX)
                    notes.append(f"{path}: none of its {len(tables)} binary tables is named {extname}: read the "
                                 f"first, {hdu.name.strip()!r}")  # fmt: skip
                table = Table.read(hdu, mask_invalid=False, character_as_bytes=True)
                header = hdu.header
                where = hdu.fileinfo()
            with opener(path, "rb") as stream:  # astropy replaced non-ASCII header bytes by '?': say so
                stream.seek(where["hdrLoc"])
                if max(stream.read(where["datLoc"] - where["hdrLoc"]), default=0) > 127:
                    notes.append(f"{path}: non-ASCII bytes in the header were replaced by '?'")
    except InputError:
        raise
    except GZIP_ERRORS as exc:
        raise InputError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    except Exception as exc:  # astropy raises many kinds for damaged files
        raise InputError(f"{path}: unreadable FITS table ({one_line(exc)})") from None
    names = [name.upper().strip() for name in table.colnames]
    if len(set(names)) < len(names):
        first = next(k for k, name in enumerate(names) if names.index(name) < k)
        raise InputError(f"{path}: columns {table.colnames[names.index(names[first])]!r} and "
                         f"{table.colnames[first]!r} have the same name")  # fmt: skip
    table.rename_columns(table.colnames, names)
    return IndexTable(path=path, header=header, table=table, warnings=notes)


def _opener(path: Path):
    """``gzip.open`` for gzip data (by its magic bytes), else ``open``."""
    with open_file(path) as stream:
        magic = stream.read(2)
    return gzip.open if magic == b"\x1f\x8b" else open


def _no_table(path: Path, opener) -> str:
    """Why a FITS file has no table HDU: truncated (not whole 2880-byte blocks), or none there."""
    size = 0
    with opener(path, "rb") as stream:
        while block := stream.read(1 << 20):
            size += len(block)
    if size % 2880:
        return f"{path}: truncated FITS file ({size} bytes is not a whole number of 2880-byte blocks)"
    return f"{path}: no binary table HDU"


def time_reference(index: IndexTable) -> TimeReference | None:
    """The time reference in an index header, or None if it has no MJDREF."""
    header = index.header
    if "MJDREFI" in header:
        mjdrefi = header_number(header, "MJDREFI", index.path)
        mjdreff = header_number(header, "MJDREFF", index.path, default=0.0)
    elif "MJDREF" in header:
        mjdref = header_number(header, "MJDREF", index.path)
        mjdrefi, mjdreff = int(mjdref // 1), mjdref % 1
    else:
        return None
    timesys = str(header.get("TIMESYS", "TT")).strip() or "TT"
    if timesys.lower() not in _TIME_SCALES:
        raise InputError(f"{index.path}: header TIMESYS={timesys!r} is not a known time scale")
    timeunit = str(header.get("TIMEUNIT", "s")).strip() or "s"
    try:
        u.Unit(timeunit).to(u.s)
    except (ValueError, u.UnitConversionError):
        raise InputError(f"{index.path}: header TIMEUNIT={timeunit!r} is not a unit of time") from None
    timeref = header.get("TIMEREF")
    return TimeReference(
        mjdrefi=int(mjdrefi),
        mjdreff=float(mjdreff),
        timesys=timesys,
        timeunit=timeunit,
        timeref=None if timeref is None else str(timeref).strip(),
        source=f"{index.path.name} header",
    )


def site_location(index: IndexTable) -> Site:
    """GEOLON/GEOLAT (deg) and ALTITUDE (m) from a header; absent ones are None."""
    header, where = index.header, index.path
    return Site(
        geolon_deg=header_quantity(header, "GEOLON", "deg", where),
        geolat_deg=header_quantity(header, "GEOLAT", "deg", where),
        altitude_m=header_quantity(header, "GEOALT" if "GEOALT" in header else "ALTITUDE", "m", where),
    )


def check_hdu_index(index: IndexTable) -> tuple[np.ndarray, np.ndarray]:
    """Validate HDU_TYPE/HDU_CLASS; return them stripped and lower-cased (object arrays)."""
    index.require(HDU_INDEX_COLUMNS)
    out = []
    for name, valid in (("HDU_TYPE", HDU_TYPES), ("HDU_CLASS", HDU_CLASSES)):
        uniques, inverse = text_codes(index, name)
        stripped = np.array([v.strip().lower() for v in uniques], dtype=object)
        bad = [k for k, v in enumerate(stripped) if v not in valid]
        if bad:
            row = int(np.flatnonzero(np.isin(inverse, bad))[0])
            raise InputError(
                f"{index.path}: row {row + 1} (OBS_ID {index.data['OBS_ID'][row]}): unknown "
                f"{name} {uniques[inverse[row]]!r} (valid: {', '.join(valid)})"
            )
        out.append(stripped[inverse])
    return out[0], out[1]


def resolve_file_paths(index: IndexTable) -> tuple[np.ndarray, list[str]]:
    """Resolve FILE_DIR/FILE_NAME by the GADF rule.

    The base is the ``BASE_DIR`` header keyword if present, else the index
    file's own directory; FILE_DIR may be empty or masked, relative (with
    ``..``) or absolute; environment variables are expanded.  Returns, per
    row, an index into the list of unique absolute normalised paths.
    """
    base = index.header.get("BASE_DIR")
    base_dir = os.path.expandvars(str(base).strip()) if base else str(index.path.parent)
    base_dir = os.path.realpath(base_dir)  # "..", resolved lexically below, must climb the real directory
    dirs, dir_codes = text_codes(index, "FILE_DIR")
    names, name_codes = text_codes(index, "FILE_NAME")
    pairs, inverse = np.unique(dir_codes * len(names) + name_codes, return_inverse=True)
    paths: dict[str, int] = {}  # two spellings of one directory ("data", "./data") are one file
    code = np.empty(len(pairs), dtype=np.int64)
    for k, pair in enumerate(pairs.tolist()):
        file_dir, file_name = dirs[pair // len(names)].strip(), names[pair % len(names)].strip()
        if not file_name:
            row = int(np.flatnonzero(inverse == k)[0])
            raise InputError(f"{index.path}: row {row + 1}: empty FILE_NAME")
        joined = os.path.join(base_dir, os.path.expandvars(file_dir), os.path.expandvars(file_name))
        path = os.path.normpath(joined)
        if len(path.encode()) > MAX_PATH_BYTES:
            row = int(np.flatnonzero(inverse == k)[0])
            raise InputError(f"{index.path}: row {row + 1}: FILE_DIR/FILE_NAME make a path of {len(path.encode())} "
                             f"bytes, longer than the {MAX_PATH_BYTES} obscat stores")  # fmt: skip
        code[k] = paths.setdefault(path, len(paths))
    return code[inverse.reshape(-1)], list(paths)
