"""FITS headers: the one card reader and parser, and typed access to header values.

Every header obscat needs apart from an index table's (read with its data by
astropy) is read here, as 80-character cards streamed from the (gzipped) file,
parsed into a plain dict ``{KEYWORD: value}``: strings (trailing spaces
removed, ``''`` unescaped), booleans, ints and floats (``D`` exponents).  Only
``KEY = value`` cards are kept (no COMMENT/HISTORY, CONTINUE or HIERARCH),
which is all the keywords obscat reads need.  :func:`header_number`,
:func:`header_quantity` and :func:`header_text` read one keyword of such a dict
(or of an astropy ``fits.Header``) with the errors ingest reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy import units as u

from ..errors import InputError

__all__ = ["FitsError", "BLOCK", "read_cards", "parse_cards", "header_number", "header_quantity", "header_text"]

BLOCK = 2880
_MAX_CARDS = 100_000  # 8 MB of header: far more than any IRF or events HDU has


class FitsError(ValueError):
    """The file is not the FITS the reader expects."""


def read_cards(stream, first: bool) -> list[str] | None:
    """The cards (ending with END) of the header starting at the stream's position; None at
    the end of the file.  ``first``: the primary header (``SIMPLE``), else an extension."""
    cards: list[str] = []
    while True:
        block = stream.read(BLOCK)
        if not block:
            return None if not cards else _truncated()
        if not cards and not block.startswith(b"SIMPLE  =" if first else b"XTENSION="):
            if first:
                raise FitsError("not a FITS file")
            if not block.strip(b"\x00 "):
                return None  # zero padding after the last HDU: the end of the file
            raise FitsError("no FITS header where the next HDU should start")
        if len(block) < BLOCK:
            _truncated()
        if len(cards) >= _MAX_CARDS:
            raise FitsError(f"a header of more than {_MAX_CARDS} cards: no END card")
        text = block.decode("ascii", "replace")
        for i in range(0, BLOCK, 80):
            card = text[i:i + 80]
            if card.startswith("END") and card[3:].strip() == "":
                return cards + [card]
            cards.append(card)


def _truncated():
    raise FitsError("truncated header")


def parse_cards(cards: list[str]) -> dict:
    """``{KEYWORD: value}`` of the ``KEY = value`` cards."""
    header: dict[str, str | bool | int | float] = {}
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


def header_number(header, key: str, where: object, default: Any = ...) -> Any:
    """Header keyword ``key`` as a finite float (text holding a number is read); ``default``
    when absent (no default: an InputError naming ``where``, the file)."""
    if key not in header:
        if default is ...:
            raise InputError(f"{where}: missing header keyword {key}")
        return default
    value = header[key]
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (ValueError, TypeError):
        raise InputError(f"{where}: header keyword {key}={value!r} is not a number") from None
    if not np.isfinite(number):
        raise InputError(f"{where}: header keyword {key}={value!r} is not finite")
    return number


def header_quantity(header, key: str, unit: str, where: object) -> float | None:
    """A header number in ``unit`` (None when absent); text is read as Gammapy reads it
    (``Angle('-67d40m35s', 'deg')``, ``Quantity('4780 m', 'm')``)."""
    value = header.get(key)
    if not isinstance(value, str):
        return header_number(header, key, where, default=None)
    from astropy.coordinates import Angle  # rare (site positions as text): not paid by every reader

    try:
        quantity = u.Quantity(value, unit) if unit == "m" else Angle(value, unit)
        number = float(quantity.to_value(unit))
    except (ValueError, TypeError, u.UnitsError):
        raise InputError(f"{where}: header keyword {key}={value!r} is not a number") from None
    if not np.isfinite(number):
        raise InputError(f"{where}: header keyword {key}={value!r} is not finite")
    return number


def header_text(header, key: str) -> str | None:
    """Header keyword ``key`` as stripped text, None when absent."""
    value = header.get(key)
    return None if value is None else str(value).strip()
