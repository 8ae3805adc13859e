"""Catalogue rows → astropy Table (with units), CSV and JSON text; :class:`RowStream`, rows read lazily."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .store.models import Base
from .store.stream import BATCH_ROWS, Rows, first_rows

__all__ = ["column_unit", "distinct_names", "to_table", "to_csv", "to_ndjson", "with_sky_and_times", "epoch_table", "RowStream"]


def _schema_column(name: str):
    """The first schema column of that name, or None."""
    return next((table.c[name] for table in Base.metadata.sorted_tables if name in table.c), None)


def column_unit(name: str) -> str | None:
    """The storage unit of a schema column name (first table that has it)."""
    column = _schema_column(name)
    unit = None if column is None else column.info.get("unit")
    return None if unit is None else (unit or "")


def distinct_names(names: Sequence[str]) -> list[str]:
    """``names`` with each repeat suffixed ``_2``, ``_3`` ... (a table's columns need distinct names)."""
    out: list[str] = []
    for name in names:
        unique, n = name, 1
        while unique in out:
            n += 1
            unique = f"{name}_{n}"
        out.append(unique)
    return out


def to_table(names: Sequence[str], rows: Sequence[Sequence[Any]]):
    """An astropy Table with one column per name; units from the schema, NULL masked."""
    import numpy as np
    from astropy.table import MaskedColumn, Table

    table = Table()
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        mask = [v is None for v in values]
        unit = column_unit(name)
        if isinstance(next((v for v in values if v is not None), None), dict):
            data = np.array([json.dumps(v) if v is not None else "" for v in values])
        elif all(mask) and values:  # no value to tell the type: the schema's
            column = _schema_column(name)
            kind = column.type.python_type if column is not None else float
            data = np.zeros(len(values), dtype=kind if kind in (int, float, bool) else str)
        elif any(mask):
            fill = next((v for v in values if v is not None), 0)
            data = np.array([fill if v is None else v for v in values])
        else:
            data = np.array(values)
        table[name] = MaskedColumn(data, mask=mask, unit=unit or None) if any(mask) else data
        if unit:
            table[name].unit = unit
    return table


def to_csv(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text; floats with full precision (``repr``), NULL as empty, JSON as text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if v is None else json.dumps(v) if isinstance(v, dict) else v for v in row])
    return out.getvalue()


def to_ndjson(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """NDJSON: one JSON object per row, one per line; NULL as null."""
    encode = json.JSONEncoder(default=str).encode
    return "".join([encode(dict(zip(names, row))) + "\n" for row in rows])


def with_sky_and_times(table, columns: Sequence[str]):
    """A table of observations as Gammapy's ObservationTable shows them: ``store``, ``obs_id``,
    ``pointing_radec`` (ICRS SkyCoord from ``ra/dec_pnt_deg``), ``time_start``/``time_stop`` (TT
    Times from ``tstart/tstop_mjd``; positions NaN and times masked where NULL), then ``columns``."""
    import numpy as np
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table
    from astropy.time import Time

    def filled(name: str) -> np.ndarray:
        return np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan)

    out = Table(meta=table.meta)
    out["store"], out["obs_id"] = table["store"], table["obs_id"]
    out["pointing_radec"] = SkyCoord(filled("ra_pnt_deg") * u.deg, filled("dec_pnt_deg") * u.deg, frame="icrs")
    out["time_start"] = Time(np.ma.masked_invalid(filled("tstart_mjd")), format="mjd", scale="tt")
    out["time_stop"] = Time(np.ma.masked_invalid(filled("tstop_mjd")), format="mjd", scale="tt")
    for name in columns:
        if name not in out.colnames:
            out[name] = table[name]
    return out


def epoch_table(rows: Sequence[Sequence[Any]]):
    """Stored epochs (:func:`obscat.store.epochs.stored_epochs`) as a Table, times as TT Times
    (masked where unbounded)."""
    import numpy as np
    from astropy.table import Table
    from astropy.time import Time

    names = ["name", "store", "telescope", "instrument", "start_mjd", "stop_mjd", "first_obs_id", "last_obs_id",
             "description", "source", "n_obs", "created_at"]  # fmt: skip
    table = to_table(names, [tuple(r) for r in rows])
    out = Table()
    for name in ("name", "store", "telescope", "instrument"):
        out[name] = table[name]
    for name in ("start", "stop"):
        mjd = np.array([np.nan if r[names.index(f"{name}_mjd")] is None else r[names.index(f"{name}_mjd")] for r in rows])
        out[name] = Time(np.ma.masked_invalid(mjd), format="mjd", scale="tt")
    for name in ("first_obs_id", "last_obs_id", "n_obs", "description", "source"):
        out[name] = table[name]
    return out


class RowSource(Protocol):
    """What a :class:`RowStream` reads: rows once, closable (:class:`~obscat.store.stream.Rows` and wrappers)."""

    def __iter__(self) -> Iterator[tuple]: ...

    def close(self) -> None: ...

    @property
    def closed(self) -> bool: ...


@dataclass
class RowStream:
    """Rows of a catalogue query, fetched in batches from a server-side cursor as they are iterated.

    ``names`` are the columns, ``units`` their units (None: none known).  Iterating yields each row
    as a tuple, once; memory stays flat whatever the number of rows.  The database connection is
    released when the rows are exhausted or the stream is closed (``with`` closes it).
    :meth:`count` asks the database for the number of rows (``COUNT(*)``, no row fetched) and
    :meth:`to_table` reads the rest into an astropy Table.
    """

    names: list[str]
    units: dict[str, str | None]
    rows: RowSource = field(repr=False)
    counter: Callable[[], int | None] | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def batches(self, limit: int | None = None, convert: bool = True) -> Iterator[list[tuple]]:
        """The rows (the first ``limit``) a list at a time, as read; ``convert=False`` leaves the
        columns of :attr:`converters` as the driver gave them (JSON text on SQLite), or converted."""
        read = self.rows.batches(convert) if isinstance(self.rows, Rows) else _chunks(iter(self.rows), BATCH_ROWS)
        return first_rows(read, limit)

    @property
    def converters(self) -> dict[int, Callable[[Any], Any]]:
        """Column index → the conversion ``batches(convert=False)`` leaves out (JSON text on SQLite)."""
        return dict(self.rows.processors) if isinstance(self.rows, Rows) else {}

    @property
    def json_columns(self) -> list[int]:
        """Indexes of the columns the driver decodes from JSON (PostgreSQL's json and jsonb)."""
        return self.rows.json_columns if isinstance(self.rows, Rows) else []

    def close(self) -> None:
        """Stop reading and release the connection."""
        self.rows.close()

    @property
    def closed(self) -> bool:
        return self.rows.closed

    def __enter__(self) -> RowStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def count(self) -> int | None:
        """The query's total number of rows, counted in SQL (None if the query cannot be counted)."""
        return None if self.counter is None else self.counter()

    def to_table(self):
        """The remaining rows as an astropy Table with units; closes the stream."""
        with self:
            table = to_table(self.names, list(self))
        for name, unit in self.units.items():
            if unit and name in table.colnames:
                table[name].unit = unit
        return table


def _chunks(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    return iter(lambda: list(itertools.islice(rows, size)), [])
