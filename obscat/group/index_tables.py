"""GADF obs and HDU index tables of catalogue observations, built a column at a time.

:mod:`obscat.group.export` writes them per group, :mod:`obscat.group.datastore` hands them to
Gammapy.  One query fetches the observations (:func:`fetch_members`), one their HDUs with their
file's path (:func:`fetch_hdus`); each column becomes one numpy array, text and JSON repeated
over rows are decoded once per distinct value, and a group is a boolean mask over the members.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .._version import __version__
from ..errors import InputError
from ..formats import column_unit
from ..store.models import DataStore, GroupMember, Hdu, HduFile, Observation, observation_column

__all__ = ["INDEX_COLUMNS", "INDEX_HEADER", "nullable_column", "Members", "Hdus", "member_query", "fetch_members",
           "store_rows", "fetch_hdus", "obs_index_table", "obs_header", "hdu_index_table"]  # fmt: skip

#: observation columns filled from the obs index, written back under their GADF names.
_GADF_COLUMNS = [c for c in Observation.__table__.columns if "gadf" in c.info]
#: the observation columns :func:`obs_index_table` needs.
INDEX_COLUMNS = ["id", *(c.name for c in _GADF_COLUMNS), "extra"]
#: The header cards every GADF index table has.
INDEX_HEADER = {
    "HDUCLASS": "GADF",
    "HDUDOC": "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats",
    "HDUVERS": "0.2",
    "HDUCLAS1": "INDEX",
}
#: obs-index header keyword -> data_store column, written when the group's stores agree on it.
_STORE_HEADER = {
    "MJDREFI": "mjdrefi", "MJDREFF": "mjdreff", "TIMESYS": "timesys", "TIMEREF": "timeref",
    "TELESCOP": "telescope", "INSTRUME": "instrument",
    "GEOLON": "geolon_deg", "GEOLAT": "geolat_deg", "ALTITUDE": "altitude_m",
}  # fmt: skip
_TIME_REFERENCE = ("mjdrefi", "mjdreff", "timesys")
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def member_query(
    columns: Sequence[str], *, grouping_id: int | None = None, label: str | None = None, criterion=None
) -> sa.Select:
    """store and the given observation columns (with ``label`` first for a grouping's members) of
    the members of grouping ``grouping_id`` (of its group ``label`` only, if given), else of every
    observation; only those ``criterion`` (a :mod:`obscat.query` criterion) keeps, if given;
    by label, store, OBS_ID."""
    m, o, s = GroupMember.__table__, Observation.__table__, DataStore.__table__
    observations = (*(observation_column(c) for c in columns),)
    if grouping_id is None:
        query = (
            sa.select(s.c.name.label("store"), *observations).join_from(o, s, s.c.id == o.c.store_id)
            .order_by(s.c.name, o.c.obs_id)
        )  # fmt: skip
    else:
        query = (
            sa.select(m.c.label, s.c.name.label("store"), *observations)
            .join_from(m, o, m.c.observation_id == o.c.id).join(s, s.c.id == o.c.store_id)
            .where(m.c.grouping_id == grouping_id).order_by(m.c.label, s.c.name, o.c.obs_id)
        )  # fmt: skip
        if label is not None:
            query = query.where(m.c.label == label)
    if criterion is not None:
        query = query.where(criterion.clause())
    return query


@dataclass(frozen=True)
class Members:
    """Observations' obs-index columns, by label, store, OBS_ID: ``values`` the fetched values of
    each column (None for NULL, ``extra`` as JSON text), the others as arrays (``label`` None
    outside a grouping)."""

    values: dict[str, tuple]
    label: np.ndarray
    store: np.ndarray
    id: np.ndarray
    obs_id: np.ndarray

    def __len__(self) -> int:
        return len(self.id)


def fetch_members(
    conn: Connection, *, grouping_id: int | None = None, label: str | None = None, criterion=None
) -> Members:
    """The obs-index columns of the observations :func:`member_query` selects (``extra`` as JSON text)."""
    query = member_query(INDEX_COLUMNS, grouping_id=grouping_id, label=label, criterion=criterion)
    extra = Observation.__table__.c.extra
    query = query.with_only_columns(
        *(sa.cast(extra, sa.Text).label("extra") if c.name == "extra" else c for c in query.selected_columns)
    )
    names = list(query.selected_columns.keys())
    rows = conn.execute(query).all()
    values = dict(zip(names, zip(*rows))) if rows else {name: () for name in names}
    labels = np.array(values.get("label", (None,) * len(rows)), dtype=object)
    ids, obs_ids = (np.array(values[name], dtype=np.int64) for name in ("id", "obs_id"))
    return Members(values, labels, np.array(values["store"], dtype=object), ids, obs_ids)


def store_rows(conn: Connection, names: set[str]) -> dict[str, dict[str, Any]]:
    """store name -> its data_store row."""
    s = DataStore.__table__
    return {row["name"]: dict(row) for row in conn.execute(sa.select(s).where(s.c.name.in_(names))).mappings()}


@dataclass(frozen=True)
class Hdus:
    """The HDUs of members, a column each, ordered as the members, each one's in HDU-index order.

    ``member`` is each HDU's member (index in :class:`Members`); text columns are their distinct
    values and, per HDU, the index of its value; ``size`` is 0 where ``size_unknown``; ``paths``
    are the distinct file paths.
    """

    member: np.ndarray
    text: dict[str, tuple[list[str], np.ndarray]]
    size: np.ndarray
    size_unknown: np.ndarray
    paths: list[str]


def fetch_hdus(conn: Connection, observation_ids, members: Members) -> Hdus:
    """The HDUs of the observations ``observation_ids`` (ids, or a SELECT of them) that are among ``members``."""
    h, f = Hdu.__table__, HduFile.__table__
    query = (
        sa.select(h.c.observation_id, h.c.hdu_type, h.c.hdu_class, h.c.hdu_name, h.c.size_bytes, f.c.path)
        .join_from(h, f, h.c.file_id == f.c.id).where(h.c.observation_id.in_(observation_ids)).order_by(h.c.id)
    )  # fmt: skip
    rows = conn.execute(query).all()
    observation, hdu_type, hdu_class, hdu_name, size, path = zip(*rows) if rows else ((),) * 6
    member = _positions(members.id, np.array(observation, dtype=np.int64))
    kept = np.flatnonzero(member >= 0)
    order = kept[np.argsort(member[kept], kind="stable")]  # by member; stable: HDU-index order within one
    paths, path_codes = _factorize(path)
    text = {
        "HDU_TYPE": _factorize(hdu_type),
        "HDU_CLASS": _factorize(hdu_class),
        "FILE_DIR": ([os.path.dirname(p) for p in paths], path_codes),
        "FILE_NAME": ([os.path.basename(p) for p in paths], path_codes),
        "HDU_NAME": _factorize(hdu_name),
    }
    unknown = _is_null(size)
    sizes = np.array([s or 0 for s in size], dtype=np.int64)
    return Hdus(member[order], {k: (values, codes[order]) for k, (values, codes) in text.items()}, sizes[order],
                unknown[order], paths)  # fmt: skip


def _positions(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The index in ``keys`` (distinct) of each of ``values``, -1 where absent."""
    if not len(keys):
        return np.full(len(values), -1)
    order = np.argsort(keys)
    at = order[np.searchsorted(keys, values, sorter=order).clip(max=len(keys) - 1)]
    return np.where(keys[at] == values, at, -1)


def _factorize(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct ``values`` (in order of first appearance) and, per value, the index of its own."""
    distinct = list(dict.fromkeys(values))
    index = {value: i for i, value in enumerate(distinct)}
    return distinct, np.fromiter(map(index.__getitem__, values), dtype=np.intp, count=len(values))


def _strings(distinct: list[str], codes: np.ndarray) -> np.ndarray:
    """``distinct[codes]`` as a numpy string array as wide as its longest value."""
    used, codes = np.unique(codes, return_inverse=True)
    return np.array([distinct[i] for i in used], dtype=str)[codes.reshape(-1)]


def obs_index_table(members: Members):
    """The obs-index columns of every member (GADF names and units; all-NULL columns left out)."""
    from astropy.table import Table

    table = Table()
    for column in _GADF_COLUMNS:
        data = nullable_column(members.values[column.name], column_unit(column.name) or None)
        if data is not None:
            table[column.info["gadf"]] = data
    docs, codes = _factorize(members.values["extra"])
    cells = [json.loads(doc) for doc in docs]
    for key in dict.fromkeys(k for cell in cells for k in cell):
        extra = _extra_column([cell.get(key) for cell in cells])
        if extra is not None:
            table[key] = extra[codes]
    return table


def nullable_column(values: tuple, unit: str | None):
    """A column of ``values``, masked where None (filled with the first value); None if all are None."""
    from astropy.table import Column, MaskedColumn

    if None not in values:
        return Column(np.array(values), unit=unit)
    mask = _is_null(values)
    if mask.all():
        return None
    fill = values[int(np.argmin(mask))]
    return MaskedColumn(np.array([fill if v is None else v for v in values]), mask=mask, unit=unit)


def _is_null(values: Sequence[Any]) -> np.ndarray:
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def _extra_column(cells: list[dict[str, Any] | None]):
    """A non-standard column from its ``extra`` JSON cells (None where absent or NULL)."""
    from astropy.table import Column, MaskedColumn

    values = [None if cell is None else cell["value"] for cell in cells]
    present = [v for v in values if v is not None]
    if not present:
        return None
    if not all(isinstance(v, str) for v in present):  # numbers: non-finite floats were stored as text
        values = [_from_json(v) for v in values]
        present = [v for v in values if v is not None]
    unit = next((cell.get("unit") for cell in cells if cell and cell.get("unit")), None)
    mask = [v is None for v in values]
    data = np.array([present[0] if v is None else v for v in values])
    return MaskedColumn(data, mask=mask, unit=unit) if any(mask) else Column(data, unit=unit)


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return _SPECIAL_FLOATS.get(value, value) if isinstance(value, str) else value


def obs_header(what: str, obs_ids: np.ndarray, stores: list[dict[str, Any]]) -> dict[str, Any]:
    """The obs-index header of observations ``obs_ids`` (``what`` names them in errors); their stores
    must share their time reference."""
    distinct, counts = np.unique(obs_ids, return_counts=True)
    if (counts > 1).any():
        duplicate = int(obs_ids[np.isin(obs_ids, distinct[counts > 1])][0])
        raise InputError(f"{what} holds OBS_ID {duplicate} of several stores "
                         "(a GADF index needs unique OBS_IDs)")  # fmt: skip
    header = {"EXTNAME": "OBS_INDEX", **INDEX_HEADER, "HDUCLAS2": "OBS", "TIMEUNIT": "s"}
    for key, column in _STORE_HEADER.items():
        values = {store[column] for store in stores}
        if len(values) > 1 and column in _TIME_REFERENCE:
            raise InputError(f"{what} mixes stores with different time references "
                             f"({', '.join(store['name'] for store in stores)})")  # fmt: skip
        if len(values) == 1 and None not in values:
            header[key] = values.pop()
    header["CREATOR"] = f"obscat {__version__}"
    return header


def hdu_index_table(members: Members, hdus: Hdus, selected: np.ndarray | None = None):
    """The HDU index of the members (those ``selected``, a boolean mask over them, if given).

    FILE_DIR is absolute: Gammapy resolves FILE_DIR against the index's own
    directory and ignores a BASE_DIR header keyword.
    """
    from astropy.table import MaskedColumn, Table

    rows = np.arange(len(hdus.member)) if selected is None else np.flatnonzero(selected[hdus.member])
    table = Table(meta={"EXTNAME": "HDU_INDEX", **INDEX_HEADER, "HDUCLAS2": "HDU"})
    table["OBS_ID"] = members.obs_id[hdus.member[rows]]
    for name in ("HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"):
        distinct, codes = hdus.text[name]
        table[name] = _strings(distinct, codes[rows])
    unknown = hdus.size_unknown[rows]
    if not unknown.all():
        table["SIZE"] = MaskedColumn(hdus.size[rows], dtype=np.int64, mask=unknown)
    return table
