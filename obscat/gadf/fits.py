"""A minimal, fast reader of named binary-table HDUs from (gzipped) FITS files.

Feature computation reads two or three small IRF tables from each of
thousands of files; astropy's general machinery spends most of its time
building column objects for them.  This reader streams the file once, parses
only the header cards (:mod:`obscat.gadf.header`), skips the other HDUs and
maps the wanted tables onto numpy structured arrays.  Columns are the values
astropy's ``fits.open`` gives: TZERO/TSCAL applied (``I``/``J``/``K`` with TZERO
2**15/2**31/2**63 as unsigned integers, other scaled columns as float64),
logical (``L``) columns as booleans (``T`` is True, ``F`` and undefined are False),
text as bytes as stored.  An integer column holding its TNULL value (a null,
which astropy masks) is refused with an error naming it.  Variable-length
(P/Q), bit (X) and complex (C/M) columns are refused; IRF tables do not use them.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Generator, Iterable
from dataclasses import dataclass

import numpy as np

from ._gzip import gzip
from .header import BLOCK as _BLOCK
from .header import FitsError, parse_cards, read_cards

__all__ = ["FitsError", "Table", "read_tables", "read_header", "read_headers"]

_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}  # fmt: skip
_TYPES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8", "A": "S"}
_UNSIGNED = {"I": (2**15, ">u2"), "J": (2**31, ">u4"), "K": (2**63, ">u8")}  # TZERO making an unsigned integer


@dataclass(frozen=True)
class Table:
    """One HDU: its header (keyword → value) and cards, and for a binary table its columns and units."""

    header: dict
    data: np.ndarray | None  # None when only the header was read
    units: dict[str, str]
    cards: tuple[str, ...] = ()

    @property
    def rows(self) -> np.ndarray:
        """The table's data; a :class:`FitsError` when only its header was read."""
        if self.data is None:
            raise FitsError(f"HDU {self.header.get('EXTNAME', '')}: only its header was read, not its data")
        return self.data

    def astropy_header(self):
        """The header as an astropy ``fits.Header`` (for WCS)."""
        from astropy.io import fits

        return fits.Header.fromstring("".join(self.cards))


#: The most data read from one HDU (IRF tables are kilobytes to a few MiB); a larger
#: wanted table is returned as a FitsError instead of being read into memory.
MAX_TABLE_BYTES = 512 << 20


def read_tables(path: str, names: Iterable[str], headers_only: Iterable[str] = ()) -> dict[str, Table | FitsError]:
    """The binary tables named (EXTNAME, case-insensitive) in ``names`` found in ``path``.

    A damaged file raises :class:`FitsError` (or OSError, or a gzip error); a wanted
    table whose header cannot be mapped onto an array, or holding more than
    :data:`MAX_TABLE_BYTES`, is returned as a :class:`FitsError` instead, so that the
    file's other tables can still be used.  Tables named in ``headers_only`` (e.g. an
    EVENTS table whose pointing keywords are all that is needed) come with
    ``data=None``: their data is skipped, never held in memory.
    """
    wanted = {n.upper() for n in names}
    header_names = {n.upper() for n in headers_only}
    found: dict[str, Table | FitsError] = {}
    with _open(path) as stream:
        first = True
        while len(found) < len(wanted):
            hdu = _next_hdu(stream, first)
            if hdu is None:
                break
            cards, header, name, size = hdu
            is_wanted = not first and str(header.get("XTENSION", "")).strip() == "BINTABLE" and name in wanted
            if is_wanted and (name in header_names or size > MAX_TABLE_BYTES):
                found[name] = Table(header, None, {}, tuple(cards)) if name in header_names else FitsError(
                    f"HDU {name} holds {size / 2**20:.3g} MiB of data, more than the {MAX_TABLE_BYTES / 2**20:.3g} "
                    "MiB obscat reads from one HDU")  # fmt: skip
                _skip_data(stream, name, size)
            elif is_wanted:
                raw_data = _read_exact(stream, size)
                if len(raw_data) < size:
                    raise FitsError(f"HDU {name} is truncated")
                try:
                    found[name] = _table(header, raw_data, tuple(cards))
                except FitsError as exc:
                    found[name] = exc
                except (KeyError, ValueError, TypeError, OverflowError, MemoryError) as exc:
                    found[name] = FitsError(f"malformed table header ({_describe(exc)})")
                stream.read(-size % _BLOCK)
            else:
                _skip(stream, size + (-size % _BLOCK))
            first = False
    return found


def read_header(path: str, extname: str) -> Table:
    """The header of HDU ``extname`` (EXTNAME, case-insensitive; a table or an image) of
    ``path``, its data skipped: a :class:`Table` with ``data=None``.  An HDU not in the
    file, like a damaged file, raises :class:`FitsError`."""
    wanted = extname.strip().upper()
    with contextlib.closing(_extension_headers(path)) as hdus:  # closes the file at the one wanted
        for cards, header, name in hdus:
            if name == wanted:
                return Table(header, None, {}, tuple(cards))
    raise FitsError(f"no HDU named {extname}")


def read_headers(path: str) -> list[dict]:
    """The header of every extension HDU of ``path`` (not the primary), in file order, their data
    skipped; a damaged file raises :class:`FitsError` (or OSError, or a gzip error)."""
    return [header for _, header, _ in _extension_headers(path)]


def _extension_headers(path: str) -> Generator[tuple[list[str], dict, str], None, None]:
    """(cards, header, upper-case EXTNAME) of each extension HDU of ``path``, read as they are asked for."""
    with _open(path) as stream:
        first = True
        while (hdu := _next_hdu(stream, first)) is not None:
            cards, header, name, size = hdu
            if not first:
                yield cards, header, name
            _skip(stream, size + (-size % _BLOCK))
            first = False


def _open(path: str):
    """``path`` opened for streaming (gunzipped if gzip); only a regular file is opened."""
    mode = os.stat(path).st_mode  # a missing file or a link loop raises OSError here
    if not stat.S_ISREG(mode):  # a FIFO would block forever, /dev/zero never ends
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise FitsError(f"{kind}, not a regular file: not read")
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _next_hdu(stream, first: bool) -> tuple[list[str], dict, str, int] | None:
    """(cards, header, upper-case EXTNAME, data bytes) of the next HDU, its data still to be
    read or skipped; None at the end of the file."""
    cards = read_cards(stream, first)
    if cards is None:
        if first:
            raise FitsError("empty file (0 bytes)")
        return None
    header = parse_cards(cards)
    name = str(header.get("EXTNAME", "")).strip().upper()
    try:
        size = _data_size(header)
    except (KeyError, ValueError, TypeError) as exc:
        raise FitsError(f"HDU {name or '(no EXTNAME)'}: malformed header ({_describe(exc)})") from None
    return cards, header, name, size


def _skip_data(stream, name: str, size: int) -> None:
    try:
        _skip(stream, size + (-size % _BLOCK))
    except FitsError:
        raise FitsError(f"HDU {name} is truncated") from None


def _read_exact(stream, n: int) -> bytes:
    """Up to ``n`` bytes, read in pieces: a header claiming a petabyte of data allocates only what is there."""
    parts, left = [], n
    while left > 0:
        chunk = stream.read(min(left, 1 << 24))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _describe(exc: BaseException) -> str:
    return f"no keyword {exc}" if isinstance(exc, KeyError) else (str(exc) or type(exc).__name__)


def _data_size(header: dict) -> int:
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return 0
    count = 1
    for i in range(1, naxis + 1):
        length = int(header[f"NAXIS{i}"])
        if length < 0:
            raise ValueError(f"NAXIS{i} = {length} is negative")
        count *= length
    return abs(int(header.get("BITPIX", 8))) // 8 * int(header.get("GCOUNT", 1)) * (int(header.get("PCOUNT", 0)) + count)


def _skip(stream, n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            raise FitsError("truncated data")
        n -= len(chunk)


def _table(header: dict, raw: bytes, cards: tuple[str, ...]) -> Table:
    fields: list[tuple[str, str] | tuple[str, str, tuple[int, ...]]] = []
    units: dict[str, str] = {}
    codes: dict[str, tuple[int, str]] = {}
    for i in range(1, int(header["TFIELDS"]) + 1):
        name = str(header[f"TTYPE{i}"]).strip()
        form = str(header[f"TFORM{i}"]).strip()
        digits = "".join(c for c in form if c.isdigit())
        code = form[len(digits):len(digits) + 1]
        repeat = int(digits) if digits else 1
        if code not in _TYPES:
            raise FitsError(f"column {name} has TFORM {form!r}, not supported")
        codes[name] = (i, code)
        if code == "A":
            fields.append((name, f"S{repeat}"))
        else:
            shape: tuple[int, ...] = (repeat,)
            if f"TDIM{i}" in header:
                shape = tuple(int(x) for x in str(header[f"TDIM{i}"]).strip("() ").split(","))[::-1]
            fields.append((name, _TYPES[code], shape) if repeat != 1 or f"TDIM{i}" in header else (name, _TYPES[code]))
        if f"TUNIT{i}" in header:
            units[name] = str(header[f"TUNIT{i}"]).strip()
    dtype = np.dtype(fields)
    rows = int(header["NAXIS2"])
    if dtype.itemsize != int(header["NAXIS1"]):
        raise FitsError(f"row size {dtype.itemsize} does not match NAXIS1 = {header['NAXIS1']}")
    data = np.frombuffer(raw, dtype=dtype, count=rows)
    physical = {name: _physical(header, i, code, name, data[name]) for name, (i, code) in codes.items()}
    changed = {name: column for name, column in physical.items() if column is not None}
    if changed:  # a copy with the converted columns; tables without scaled or logical columns stay a view
        out = np.empty(rows, dtype=[(name, *_field(changed.get(name, data[name]))) for name in codes])
        for name in codes:
            out[name] = changed.get(name, data[name])
        data = out
    return Table(header=header, data=data, units=units, cards=cards)


def _field(column: np.ndarray) -> tuple:
    return (column.dtype, column.shape[1:]) if column.ndim > 1 else (column.dtype,)


def _physical(header: dict, i: int, code: str, name: str, column: np.ndarray) -> np.ndarray | None:
    """Column ``name`` (number ``i``) as astropy's ``fits.open`` gives it, None when it is as stored."""
    if code == "L":
        return column == ord("T")
    if code == "A":
        return None
    scale, zero = header.get(f"TSCAL{i}", 1), header.get(f"TZERO{i}", 0)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (scale, zero)):
        raise FitsError(f"column {name}: TSCAL{i} = {scale!r} / TZERO{i} = {zero!r} is not a number")
    null, converted = header.get(f"TNULL{i}"), None
    if scale == 1 and code in _UNSIGNED and zero == _UNSIGNED[code][0]:
        unsigned = _UNSIGNED[code][1]
        converted = (column.view(unsigned) ^ np.array(zero, unsigned)).astype(unsigned[1:])
    elif scale != 1 or zero != 0:
        converted = np.array(column, dtype=np.float64)
        if scale != 1:
            np.multiply(converted, scale, converted)
        if zero != 0:
            converted += zero
    if null is not None and code in "BIJK":  # astropy masks the cells equal to TNULL, after scaling
        hits = int(np.count_nonzero((column if converted is None else converted) == null))
        if hits:
            raise FitsError(f"column {name} holds its null value (TNULL{i} = {null}) in {hits} of {column.size} "
                            "cells; obscat does not read integer columns with nulls")  # fmt: skip
    return converted
