"""An annotation file as typed columns, one value per key: read with astropy (ECSV, CSV, FITS;
pandas HDF5 with the ``obscat[hdf5]`` extra), each column's kind and unit decided, duplicate keys
refused, resolved by a rule or aggregated (per-subrun tables). Every error names the file, the
column and the row (rows count from 1, after the header)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, ParameterError, did_you_mean, printable

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["AnnotationInput", "AGGREGATES", "read_annotation_file", "prepare_annotations"]

#: How the rows of one key are combined: mean, min, max, frac (the fraction of true/non-zero).
AGGREGATES = ("mean", "min", "max", "frac")
_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits", ".fit": "fits", ".fits.gz": "fits",
            ".h5": "hdf5", ".hdf5": "hdf5"}  # fmt: skip
_MAX_MASK = 2**63


@dataclass
class AnnotationInput:
    """The columns of an annotation file, one value per distinct key (sorted), None where missing."""

    keys: np.ndarray
    names: list[str]
    kinds: list[str]
    units: list[str | None]
    categories: list[list[str] | None]
    aggregates: list[str | None]
    values: list[list[Any]] = field(repr=False)
    n_rows: int = 0


def read_annotation_file(path: Path) -> Table:
    """The file's table (by its suffix: .ecsv, .csv, .fits[.gz], .h5/.hdf5)."""
    from astropy.table import Table

    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".fits.gz") else path.suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise InputError(f"{path}: unknown annotation file type {suffix or '(none)'!r} "
                         "(.ecsv, .csv, .fits, .fits.gz, .h5, .hdf5)")  # fmt: skip
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if fmt == "hdf5":
            return _read_pandas_hdf5(path)
        if fmt == "ascii.csv":  # True/False (as astropy and pandas write booleans) are booleans, not text
            from astropy.io.ascii import convert_numpy

            return Table.read(path, format=fmt, converters={"*": [convert_numpy(t) for t in (int, float, bool, str)]})
        return Table.read(path, format=fmt)
    except InputError:
        raise
    except Exception as exc:  # astropy's readers raise many types
        raise InputError(f"{path}: cannot read as {fmt}: {printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}") from None


def _read_pandas_hdf5(path: Path) -> Table:
    try:
        import pandas as pd
    except ImportError:
        raise InputError(f"{path}: reading HDF5 needs pandas and PyTables: pip install 'obscat[hdf5]'") from None
    from astropy.table import Table

    return Table.from_pandas(pd.read_hdf(path))


def prepare_annotations(table: Table, path: Path, *, key: str, units: dict[str, str] | None = None,
                        categories: dict[str, list[str]] | None = None, masks: list[str] | None = None,
                        on_duplicate: str | None = None, aggregate: dict[str, str] | None = None) -> AnnotationInput:  # fmt: skip
    """The typed columns of ``table`` (read from ``path``), one value per key."""
    units, categories, aggregate = dict(units or {}), dict(categories or {}), dict(aggregate or {})
    masks = list(masks or [])
    names = [str(n) for n in table.colnames]
    for option, given in (("units", units), ("categories", categories), ("masks", masks), ("aggregate", aggregate)):
        for name in given:
            if name not in names or name == key:
                what = "the key column" if name == key else f"not a column of {path}{did_you_mean(name, names)}"
                raise ParameterError(f"`{option}` names {name!r}: {what}")
    if key not in names:
        raise InputError(f"{path}: no key column {key!r}{did_you_mean(key, names)} (columns: {', '.join(names)})")
    if on_duplicate is not None and aggregate:
        raise ParameterError("give `on_duplicate` or `aggregate`, not both")
    keys = _keys(table[key], path, key)
    columns = [n for n in names if n != key]
    if not columns:
        raise InputError(f"{path}: no column besides the key {key!r}")
    kinds: list[str] = []
    col_units: list[str | None] = []
    col_categories: list[list[str] | None] = []
    values: list[list[Any]] = []
    for name in columns:
        kind, unit, cats, vals = _column(table[name], path, name, units.get(name), categories.get(name), name in masks)
        kinds.append(kind)
        col_units.append(unit)
        col_categories.append(cats)
        values.append(vals)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    distinct, starts, counts = np.unique(sorted_keys, return_index=True, return_counts=True)
    aggregates: list[str | None] = [None] * len(columns)
    if aggregate:
        missing = [n for n in columns if n not in aggregate]
        if missing:
            raise ParameterError(f"`aggregate` gives no aggregation for column {missing[0]!r}: give one for every "
                                 f"column ({', '.join(AGGREGATES)})")  # fmt: skip
        for i, name in enumerate(columns):
            how = aggregate[name]
            values[i], kinds[i], col_units[i] = _aggregate(values[i], order, starts, kinds[i], col_units[i], how, name)
            aggregates[i] = how
    elif (counts > 1).any():
        pick = _pick_rows(on_duplicate, order, starts, counts, keys, columns, kinds, values, path, key)
        values = [[v[j] for j in pick] for v in values]
    elif (np.diff(order) != 1).any():  # not in key order already
        values = [[v[j] for j in order] for v in values]
    return AnnotationInput(distinct, columns, kinds, col_units, col_categories, aggregates, values, len(keys))


def _keys(column, path: Path, key: str) -> np.ndarray:
    data = np.ma.getmaskarray(column)
    if data.any():
        raise InputError(f"{path}: column {key!r} row {int(np.argmax(data)) + 1}: no OBS_ID (empty)")
    values = np.asarray(column)
    if values.dtype.kind not in "iu":
        bad = next((i for i, v in enumerate(values) if not _integer(v)), None)
        if bad is not None:
            raise InputError(f"{path}: column {key!r} row {bad + 1}: {printable(_text(values[bad]))!r} is not an OBS_ID "
                             "(an integer)")  # fmt: skip
    return values.astype(np.int64)


def _integer(value) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number.is_integer()


def _column(column, path: Path, name: str, unit: str | None, categories: list[str] | None,
            mask: bool) -> tuple[str, str | None, list[str] | None, list[Any]]:  # fmt: skip
    """(kind, unit, categories, values with None where missing) of one column."""
    missing = np.ma.getmaskarray(column)
    data = np.asarray(column.filled() if hasattr(column, "filled") else column)
    where = f"{path}: column {name!r}"
    if categories is not None:
        labels = [str(c) for c in categories]
        if len(set(labels)) != len(labels) or not labels:
            raise ParameterError(f"`categories` of {name!r} must be distinct labels, not {labels!r}")
        rank = {label: i for i, label in enumerate(labels)}
        out: list[int | None] = []
        for row, (value, gone) in enumerate(zip(data.tolist(), missing)):
            text = _text(value)
            if gone or text == "":
                out.append(None)
            elif text not in rank:
                raise InputError(f"{where} row {row + 1}: {printable(text)!r} is not one of its categories "
                                 f"{', '.join(labels)}")  # fmt: skip
            else:
                out.append(rank[text])
        return "category", None, labels, out
    if mask:
        if data.dtype.kind not in "iub":
            bad = next((i for i, v in enumerate(data.tolist()) if not _integer(v)), 0)
            raise InputError(f"{where} row {bad + 1}: {printable(_text(data[bad]))!r} is not a bit mask (an integer)")
        ints = data.astype(np.int64) if data.dtype.kind != "u" else data
        bad_rows = np.flatnonzero(~missing & ((ints < 0) | (ints >= _MAX_MASK)))
        if bad_rows.size:
            raise InputError(f"{where} row {bad_rows[0] + 1}: {data[bad_rows[0]]} is not a 63-bit mask")
        return "mask", None, None, _with_nulls(ints.tolist(), missing)
    if data.dtype.kind in "iufb":
        floats = data.astype(np.float64)
        gone = missing | np.isnan(floats)
        return "number", _unit(column, unit, where), None, _with_nulls(floats.tolist(), gone)
    if data.dtype.kind in "US" or data.dtype == object:
        if unit is not None:
            raise ParameterError(f"`units` gives {name!r} a unit, but it holds text")
        texts = [None if m else _text(v) for v, m in zip(data.tolist(), missing)]
        nul = next((i for i, t in enumerate(texts) if t is not None and "\x00" in t), None)
        if nul is not None:
            raise InputError(f"{where} row {nul + 1}: text contains a NUL character")
        return "text", None, None, texts
    raise InputError(f"{where}: values of type {data.dtype} are neither numbers nor text")


def _with_nulls(values: list, missing: np.ndarray) -> list:
    """``values`` with None where ``missing``."""
    return [None if m else v for v, m in zip(values, missing)] if missing.any() else values


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _unit(column, given: str | None, where: str) -> str | None:
    """The column's unit: the file's, else ``given``; both must agree."""
    from astropy import units as u

    own = getattr(column, "unit", None)
    try:
        unit = u.Unit(given) if given is not None else None
    except ValueError:
        raise ParameterError(f"`units` gives {where.split(': ')[-1]} the unknown unit {given!r}") from None
    if own is not None and unit is not None and own != unit:
        raise InputError(f"{where}: the file says its unit is {own}, not {given}")
    unit = own if own is not None else unit
    return None if unit is None or unit == u.dimensionless_unscaled else unit.to_string()


def _pick_rows(rule, order, starts, counts, keys, columns, kinds, values, path, key) -> np.ndarray:
    """The row kept per key under ``rule`` ("first", "last", "max:COLUMN")."""
    if rule is None:
        dup = np.flatnonzero(counts > 1)
        first = dup[0]
        rows = sorted(int(order[starts[first] + j]) + 1 for j in range(counts[first]))
        raise InputError(f"{path}: column {key!r} holds {plural_keys(len(dup))}, first {int(keys[order[starts[first]]])} "
                         f"(rows {', '.join(map(str, rows))}): give `on_duplicate` (first, last, max:COLUMN) or "
                         "`aggregate`")  # fmt: skip
    ends = starts + counts - 1
    if rule == "first":
        return order[starts]
    if rule == "last":
        return order[ends]
    if rule.startswith("max:"):
        name = rule[4:]
        if name not in columns:
            raise ParameterError(f"`on_duplicate={rule!r}` names no column of {path}{did_you_mean(name, columns)}")
        i = columns.index(name)
        if kinds[i] not in ("number", "mask", "category"):
            raise ParameterError(f"`on_duplicate={rule!r}`: column {name!r} holds text")
        score = np.array([-math.inf if v is None else v for v in values[i]], dtype=float)[order]
        best = [int(order[s + np.argmax(score[s:s + n])]) for s, n in zip(starts, counts)]
        return np.array(best, dtype=np.int64)
    raise ParameterError(f"`on_duplicate={rule!r}` must be 'first', 'last' or 'max:COLUMN'")


def plural_keys(n: int) -> str:
    return f"{n} duplicate key{'s' if n != 1 else ''}"


def _aggregate(values: list, order, starts, kind: str, unit: str | None, how: str,
               name: str) -> tuple[list, str, str | None]:  # fmt: skip
    """One value per key of a column under ``how`` (masks: ``max`` ORs the bits, ``min`` ANDs them);
    (values, kind, unit) of the result."""
    if how not in AGGREGATES:
        raise ParameterError(f"`aggregate` of {name!r} must be one of {', '.join(AGGREGATES)}, not {how!r}")
    if kind == "text" or (kind in ("category", "mask") and how not in ("min", "max")):
        raise ParameterError(f"`aggregate={how!r}` cannot combine column {name!r} ({kind}): "
                             f"{'min or max' if kind != 'text' else 'text has no aggregation'}")  # fmt: skip
    present = np.array([v is not None for v in values], dtype=bool)[order]
    n = np.add.reduceat(present.astype(np.int64), starts)
    if kind == "mask":  # bits, not magnitudes: max keeps the bits of any row, min those of every row
        bits = np.array([0 if v is None else v for v in values], dtype=np.int64)[order]
        combine, identity = (np.bitwise_or, 0) if how == "max" else (np.bitwise_and, -1)
        out_bits = combine.reduceat(np.where(present, bits, identity), starts)
        return [None if k == 0 else int(v) for v, k in zip(out_bits.tolist(), n)], kind, unit
    data = np.array([np.nan if v is None else v for v in values], dtype=float)[order]
    if how in ("mean", "frac"):
        counted = np.where(present, data if how == "mean" else (data != 0).astype(float), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.add.reduceat(counted, starts) / n
    else:
        fill = np.inf if how == "min" else -np.inf
        reduce = np.minimum if how == "min" else np.maximum
        out = reduce.reduceat(np.where(present, data, fill), starts)
    result = [None if k == 0 else (int(v) if kind != "number" else float(v)) for v, k in zip(out.tolist(), n)]
    if how == "frac":
        return result, "number", None
    return result, kind, unit
