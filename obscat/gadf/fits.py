"""A minimal, fast reader of named binary-table HDUs from (gzipped) FITS files.

Feature computation reads two or three small IRF tables from each of
thousands of files; astropy's general machinery spends most of its time
building column objects for them.  This reader streams the file once, parses
only the header cards it needs, skips the other HDUs and maps the wanted
tables onto numpy structured arrays (big-endian, as stored).  Variable-length
(P/Q) and bit (X) columns are not supported; IRF tables do not use them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import numpy as np

from ._gzip import gzip

__all__ = ["FitsError", "Table", "read_tables"]

_BLOCK = 2880
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}  # fmt: skip
_MAX_CARDS = 100_000  # 8 MB of header: far more than any IRF or events HDU has
_TYPES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8", "A": "S"}


@dataclass(frozen=True)
class Table:
    """One binary table: its header (keyword → value), columns and units."""

    header: dict
    data: np.ndarray | None  # None when only the header was read
    units: dict[str, str]


class FitsError(ValueError):
    """The file is not the FITS the reader expects."""


#: The most data read from one HDU (IRF tables are kilobytes to a few MiB); a larger
#: wanted table is returned as a FitsError instead of being read into memory.
MAX_TABLE_BYTES = 512 << 20


def read_tables(path: str, names: set[str], headers_only: set[str] = frozenset()) -> dict[str, Table | FitsError]:
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
    found: dict[str, Table] = {}
    mode = os.stat(path).st_mode  # a missing file or a link loop raises OSError here
    if not stat.S_ISREG(mode):  # a FIFO would block forever, /dev/zero never ends
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise FitsError(f"{kind}, not a regular file: not read")
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as stream:
        first = True
        while len(found) < len(wanted):
            cards = _read_header(stream, first)
            if cards is None:
                if first:
                    raise FitsError("empty file (0 bytes)")
                break
            header = _parse(cards)
            name = str(header.get("EXTNAME", "")).strip().upper()
            try:
                size = _data_size(header)
            except (KeyError, ValueError, TypeError) as exc:
                raise FitsError(f"HDU {name or '(no EXTNAME)'}: malformed header ({_describe(exc)})") from None
            is_wanted = not first and str(header.get("XTENSION", "")).strip() == "BINTABLE" and name in wanted
            if is_wanted and (name in header_names or size > MAX_TABLE_BYTES):
                found[name] = Table(header, None, {}) if name in header_names else FitsError(
                    f"HDU {name} holds {size / 2**20:.3g} MiB of data, more than the {MAX_TABLE_BYTES / 2**20:.3g} "
                    "MiB obscat reads from one HDU")  # fmt: skip
                try:
                    _skip(stream, size + (-size % _BLOCK))
                except FitsError:
                    raise FitsError(f"HDU {name} is truncated") from None
            elif is_wanted:
                raw_data = _read_exact(stream, size)
                if len(raw_data) < size:
                    raise FitsError(f"HDU {name} is truncated")
                try:
                    found[name] = _table(header, raw_data)
                except (KeyError, ValueError, TypeError, OverflowError, MemoryError) as exc:
                    found[name] = FitsError(f"malformed table header ({_describe(exc)})")
                stream.read(-size % _BLOCK)
            else:
                _skip(stream, size + (-size % _BLOCK))
            first = False
    return found


def _read_header(stream, first: bool) -> list[str] | None:
    cards: list[str] = []
    while True:
        block = stream.read(_BLOCK)
        if not block:
            return None if not cards else _truncated()
        if not cards and not block.startswith(b"SIMPLE  =" if first else b"XTENSION="):
            if first:
                raise FitsError("not a FITS file")
            if not block.strip(b"\x00 "):
                return None  # zero padding after the last HDU: the end of the file
            raise FitsError("no FITS header where the next HDU should start")
        if len(block) < _BLOCK:
            _truncated()
        if len(cards) >= _MAX_CARDS:
            raise FitsError(f"a header of more than {_MAX_CARDS} cards: no END card")
        text = block.decode("ascii", "replace")
        for i in range(0, _BLOCK, 80):
            card = text[i:i + 80]
            if card.startswith("END") and card[3:].strip() == "":
                return cards + [card]
            cards.append(card)


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


def _truncated():
    raise FitsError("truncated header")


def _parse(cards: list[str]) -> dict:
    header = {}
    for card in cards:
        if card[8:10] != "= ":
            continue
        key, text = card[:8].strip(), card[10:].strip()
        if text.startswith("'"):
            end = text.find("'", 1)
            while end != -1 and text[end + 1:end + 2] == "'":  # '' is an escaped quote
                end = text.find("'", end + 2)
            header[key] = text[1:end].replace("''", "'").rstrip()
            continue
        value = text.split("/", 1)[0].strip()
        if value in ("T", "F"):
            header[key] = value == "T"
            continue
        try:
            header[key] = int(value)
        except ValueError:
            try:
                header[key] = float(value.replace("D", "E"))
            except ValueError:
                header[key] = value
    return header


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


def _table(header: dict, raw: bytes) -> Table:
    fields, units = [], {}
    for i in range(1, int(header["TFIELDS"]) + 1):
        name = str(header[f"TTYPE{i}"]).strip()
        form = str(header[f"TFORM{i}"]).strip()
        digits = "".join(c for c in form if c.isdigit())
        code = form[len(digits):len(digits) + 1]
        repeat = int(digits) if digits else 1
        if code not in _TYPES:
            raise FitsError(f"column {name} has TFORM {form!r}, not supported")
        if code == "A":
            fields.append((name, f"S{repeat}"))
        else:
            shape = (repeat,)
            if f"TDIM{i}" in header:
                shape = tuple(int(x) for x in str(header[f"TDIM{i}"]).strip("() ").split(","))[::-1]
            fields.append((name, _TYPES[code], shape) if repeat != 1 or f"TDIM{i}" in header else (name, _TYPES[code]))
        if f"TUNIT{i}" in header:
            units[name] = str(header[f"TUNIT{i}"]).strip()
    dtype = np.dtype(fields)
    rows = int(header["NAXIS2"])
    if dtype.itemsize != int(header["NAXIS1"]):
        raise FitsError(f"row size {dtype.itemsize} does not match NAXIS1 = {header['NAXIS1']}")
    return Table(header=header, data=np.frombuffer(raw, dtype=dtype, count=rows), units=units)
