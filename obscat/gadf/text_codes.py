"""Index columns as numpy arrays: text columns factorised into distinct values and codes.

Index tables repeat few values in millions of rows; :func:`text_codes` decodes
only the distinct ones, :func:`factorize` finds them by hashing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    from .index import IndexTable

__all__ = ["dtype_text", "factorize", "json_safe", "text_codes"]


def text_codes(index: IndexTable, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A text column as its distinct values (Python str, object array) and, per row,
    the index of its value.  Masked cells are ''.

    Index tables repeat few values in millions of rows, so decoding only the
    distinct ones is what keeps a 6-million-row HDU index fast and small.
    """
    column = index.data[name]
    if column.dtype.kind not in "SU":
        raise InputError(f"{index.path}: column {name} holds {dtype_text(column.dtype)}, expected text")
    if column.ndim != 1:
        raise InputError(f"{index.path}: column {name} has shape {column.shape[1:]} per row, expected one string")
    data = np.asarray(column)
    mask = getattr(column, "mask", None)
    if mask is not None and np.any(mask):
        data = np.where(mask, data.dtype.type(), data)
    uniques, inverse = factorize(data)
    decoded = np.empty(len(uniques), dtype=object)
    for k, value in enumerate(uniques.tolist()):
        if isinstance(value, bytes):
            value = value.split(b"\x00", 1)[0]  # FITS: an ASCII NUL ends the string, what follows is undefined
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                row = int(np.flatnonzero(inverse == k)[0])
                raise InputError(
                    f"{index.path}: row {row + 1}: column {name} is not valid UTF-8 ({exc.reason})"
                ) from None
        else:
            value = value.split("\x00", 1)[0]
        decoded[k] = value
    return decoded, inverse.reshape(-1)


def dtype_text(dtype: np.dtype) -> str:
    """A column's type in words: ``text (32 characters)``, ``64-bit floats`` ..."""
    kind, bits = dtype.kind, dtype.itemsize * 8
    if kind in "SU":
        return f"text ({dtype.itemsize // (4 if kind == 'U' else 1)} characters)"
    words = {"f": "floats", "i": "integers", "u": "unsigned integers", "c": "complex numbers"}
    return f"{bits}-bit {words[kind]}" if kind in words else ("booleans" if kind == "b" else f"{dtype} values")


def factorize(data: np.ndarray, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a fixed-width string array and, per element, the index of its value.

    Like ``np.unique(data, return_inverse=True)`` (but the distinct values are
    not sorted): it sorts 64-bit hashes of the strings instead of the strings,
    several times faster on millions of rows, and checks there was no collision.
    """
    n, width = len(data), data.dtype.itemsize
    if n == 0 or width == 0 or data.dtype.kind != "S":
        return np.unique(data, return_inverse=True)
    words = -(-width // 8)
    hashes = np.empty(n, dtype=np.uint64)
    for lo in range(0, n, chunk):
        part = np.ascontiguousarray(data[lo:lo + chunk])
        buf = np.zeros((len(part), words * 8), dtype=np.uint8)
        buf[:, :width] = part.view(np.uint8).reshape(len(part), width)
        word = buf.view("<u8")
        h = word[:, 0].copy()
        for k in range(1, words):
            h = (h * np.uint64(0x9E3779B97F4A7C15)) ^ word[:, k]
        hashes[lo:lo + chunk] = h
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    uniques = data[first]
    for lo in range(0, n, chunk):
        if not np.array_equal(uniques[inverse[lo:lo + chunk]], data[lo:lo + chunk]):
            return np.unique(data, return_inverse=True)  # a hash collision: sort the strings
    return uniques, inverse


def json_safe(value: Any) -> Any:
    """A value JSON can hold losslessly: non-finite floats become strings."""
    if isinstance(value, float) and not np.isfinite(value):
        return "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
