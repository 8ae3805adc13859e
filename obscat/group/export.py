"""A stored grouping as files: one GADF data store per group, or one table.

:func:`export_gadf` writes, per group label, an ``obs-index.fits.gz`` and an
``hdu-index.fits.gz`` that point at the original files, so that Gammapy's
``DataStore.from_dir`` opens each group as it is.  :func:`export_table` writes
every member with its label and observation columns as CSV or ECSV.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..errors import InputError, ParameterError
from ..formats import to_csv, to_table
from ..gadf.files import is_regular_file
from ..store.engine import connect
from ..store.rows import id_by_name
from ..store.models import (
    OBSERVATION_COLUMNS,
    DataStore,
    Grouping,
    GroupMember,
    Hdu,
    HduFile,
    Observation,
    observation_column,
)

__all__ = ["export_gadf", "export_table", "MissingFilesWarning"]

#: observation columns filled from the obs index, written back under their GADF names.
_GADF_COLUMNS = [c for c in Observation.__table__.columns if "gadf" in c.info]
#: the observation columns :func:`obs_index_table` needs.
INDEX_COLUMNS = ["id", *(c.name for c in _GADF_COLUMNS), "extra"]
_INDEX_HEADER = {
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


class MissingFilesWarning(UserWarning):
    """An export (with ``allow_missing``) points at data files that do not exist."""


def export_gadf(engine: Engine, name: str, directory: Path, *, allow_missing: bool = False) -> list[Path]:
    """Write grouping ``name`` as one GADF data store per group under ``directory``.

    Each ``directory/<label>/`` holds an obs index (GADF column names and units,
    the store's time reference and site in the header) and an HDU index whose
    absolute FILE_DIR points at the original files; ``directory/grouping.json``
    describes the grouping.  ``directory`` must be absent or empty; everything is
    written beside it first and renamed into place.  Returns the group directories.

    A grouping whose observations' data files are missing (not regular files
    now) is refused with their names; ``allow_missing`` exports it anyway, with
    a :class:`MissingFilesWarning` naming them.
    """
    directory = Path(directory)
    _check_target(directory)
    with connect(engine) as conn:
        grouping = _grouping(conn, name)
        members = member_rows(conn, INDEX_COLUMNS, grouping_id=grouping["id"])
        stores = store_rows(conn, {m["store"] for m in members})
        hdus = hdu_rows(conn, _member_ids(grouping["id"]))
    _check_files(name, hdus, allow_missing)
    folders = _folders(name, sorted({m["label"] for m in members}))
    obs_index = obs_index_table(members)
    labels = np.array([m["label"] for m in members])
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        groups = {}
        for label, folder in folders.items():
            rows = [m for m in members if m["label"] == label]
            group_stores = [stores[s] for s in sorted({m["store"] for m in rows})]
            table = obs_index[labels == label]
            table.meta.update(obs_header(f"grouping {name!r}: group {label!r}", rows, group_stores))
            (tmp / folder).mkdir()
            table.write(tmp / folder / "obs-index.fits.gz", format="fits")
            hdu_index = hdu_index_table({m["id"]: m["obs_id"] for m in rows}, hdus)
            hdu_index.write(tmp / folder / "hdu-index.fits.gz", format="fits")
            obs_ids: dict[str, list[int]] = {}
            for m in rows:
                obs_ids.setdefault(m["store"], []).append(m["obs_id"])
            groups[label] = {"directory": folder, "n_obs": len(rows), "obs_ids": obs_ids}
        (tmp / "grouping.json").write_text(json.dumps(_description(grouping, groups), indent=1) + "\n")
        try:
            os.replace(tmp, directory)  # replaces an empty directory, fails on a non-empty one
        except OSError as exc:
            raise InputError(f"{directory}: cannot write the export there ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [directory / folder for folder in folders.values()]


def export_table(engine: Engine, name: str, path: Path, fmt: str) -> Path:
    """Write grouping ``name`` as one row per member (label, store, observation columns).

    ``fmt`` is ``"csv"`` (floats at full precision, NULL empty) or ``"ecsv"``
    (units kept, the grouping's description in the table's ``meta``).  An
    existing ``path`` is refused; the file is written beside it and renamed.
    """
    if fmt not in ("csv", "ecsv"):
        raise InputError(f"unknown table format {fmt!r} (csv, ecsv)")
    path = Path(path)
    if path.exists():
        raise InputError(f"{path}: exists, not overwritten")
    with connect(engine) as conn:
        grouping = _grouping(conn, name)
        members = member_rows(conn, list(OBSERVATION_COLUMNS), grouping_id=grouping["id"])
    names = ["label", "store", *OBSERVATION_COLUMNS]
    rows = [tuple(m[c] for c in names) for m in members]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        if fmt == "csv":
            tmp.write_text(to_csv(names, rows))
        else:
            table = to_table(names, rows)
            table.meta.update(_description(grouping, None))
            table.write(tmp, format="ascii.ecsv")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_target(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory}: exists and is not an empty directory")


def _grouping(conn: Connection, name: str) -> dict[str, Any]:
    g = Grouping.__table__
    grouping_id = id_by_name(conn, g, name, "grouping")
    return dict(conn.execute(sa.select(g).where(g.c.id == grouping_id)).mappings().one())


def member_rows(conn: Connection, columns: list[str], *, grouping_id: int | None = None, label: str | None = None,
                criterion=None) -> list[dict[str, Any]]:
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
    return [dict(row) for row in conn.execute(query).mappings()]


def store_rows(conn: Connection, names: set[str]) -> dict[str, dict[str, Any]]:
    """store name -> its data_store row."""
    s = DataStore.__table__
    return {row["name"]: dict(row) for row in conn.execute(sa.select(s).where(s.c.name.in_(names))).mappings()}


def _member_ids(grouping_id: int) -> sa.Select:
    m = GroupMember.__table__
    return sa.select(m.c.observation_id).where(m.c.grouping_id == grouping_id)


def hdu_rows(conn: Connection, observation_ids) -> dict[int, list[dict[str, Any]]]:
    """observation.id -> its HDUs in HDU-index order, with their file's path, for the observations
    ``observation_ids`` (ids, or a SELECT of them)."""
    h, f = Hdu.__table__, HduFile.__table__
    query = (
        sa.select(h.c.observation_id, h.c.hdu_type, h.c.hdu_class, h.c.hdu_name, h.c.size_bytes, f.c.path)
        .join_from(h, f, h.c.file_id == f.c.id).where(h.c.observation_id.in_(observation_ids)).order_by(h.c.id)
    )  # fmt: skip
    out: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(query).mappings():
        out.setdefault(row["observation_id"], []).append(dict(row))
    return out


def _check_files(name: str, hdus: dict[int, list[dict[str, Any]]], allow_missing: bool) -> None:
    """Refuse (or, with ``allow_missing``, warn about) data files that do not exist."""
    paths = sorted({h["path"] for rows in hdus.values() for h in rows})
    missing = [p for p in paths if not is_regular_file(p)]
    if not missing:
        return
    listed = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    what = f"grouping {name!r}: {len(missing)} of the {len(paths)} data files of its observations are missing: {listed}"
    if not allow_missing:
        raise ParameterError(f"{what}; pass `allow_missing=True` to export it anyway")
    warnings.warn(f"{what}; exported anyway, Gammapy will fail on them", MissingFilesWarning, stacklevel=3)


def _folders(name: str, labels: list[str]) -> dict[str, str]:
    """label -> directory name: characters other than letters, digits and ``._,=+-[]()`` become ``_``."""
    folders: dict[str, str] = {}
    for label in labels:
        folder = re.sub(r"[^\w.,=+\-\[\]()]", "_", label)
        if folder in ("", ".", "..", "grouping.json"):
            raise InputError(f"grouping {name!r}: label {label!r} is not usable as a directory name")
        clash = next((other for other, f in folders.items() if f == folder), None)
        if clash is not None:
            raise InputError(f"grouping {name!r}: labels {clash!r} and {label!r} both make directory {folder!r}")
        folders[label] = folder
    return folders


def obs_index_table(members: list[dict[str, Any]]):
    """The obs-index columns of every member (GADF names and units; all-NULL columns left out)."""
    from astropy.table import MaskedColumn

    names = [c.name for c in _GADF_COLUMNS]
    table = to_table(names, [tuple(m[c] for c in names) for m in members])
    for column in _GADF_COLUMNS:
        if isinstance(table[column.name], MaskedColumn) and table[column.name].mask.all():
            table.remove_column(column.name)
        else:
            table.rename_column(column.name, column.info["gadf"])
    for key in dict.fromkeys(k for m in members for k in m["extra"]):
        column = _extra_column([m["extra"].get(key) for m in members])
        if column is not None:
            table[key] = column
    return table


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


def obs_header(what: str, rows: list[dict[str, Any]], stores: list[dict[str, Any]]) -> dict[str, Any]:
    """The obs-index header of observations ``rows`` (``what`` names them in errors); their stores must
    share their time reference."""
    obs_ids = [m["obs_id"] for m in rows]
    if len(set(obs_ids)) < len(obs_ids):
        duplicate = next(o for o in obs_ids if obs_ids.count(o) > 1)
        raise InputError(f"{what} holds OBS_ID {duplicate} of several stores "
                         "(a GADF index needs unique OBS_IDs)")  # fmt: skip
    header = {"EXTNAME": "OBS_INDEX", **_INDEX_HEADER, "HDUCLAS2": "OBS", "TIMEUNIT": "s"}
    for key, column in _STORE_HEADER.items():
        values = {store[column] for store in stores}
        if len(values) > 1 and column in _TIME_REFERENCE:
            raise InputError(f"{what} mixes stores with different time references "
                             f"({', '.join(store['name'] for store in stores)})")  # fmt: skip
        if len(values) == 1 and None not in values:
            header[key] = values.pop()
    header["CREATOR"] = f"obscat {__version__}"
    return header


def hdu_index_table(obs_ids: dict[int, int], hdus: dict[int, list[dict[str, Any]]]):
    """The HDU index of the observations ``obs_ids`` (observation.id -> OBS_ID).

    FILE_DIR is absolute: Gammapy resolves FILE_DIR against the index's own
    directory and ignores a BASE_DIR header keyword.
    """
    from astropy.table import MaskedColumn, Table

    rows = [h for observation_id in obs_ids for h in hdus.get(observation_id, [])]
    table = Table(meta={"EXTNAME": "HDU_INDEX", **_INDEX_HEADER, "HDUCLAS2": "HDU"})
    table["OBS_ID"] = np.array([obs_ids[h["observation_id"]] for h in rows], dtype=np.int64)
    table["HDU_TYPE"] = np.array([h["hdu_type"] for h in rows], dtype=str)
    table["HDU_CLASS"] = np.array([h["hdu_class"] for h in rows], dtype=str)
    table["FILE_DIR"] = np.array([os.path.dirname(h["path"]) for h in rows], dtype=str)
    table["FILE_NAME"] = np.array([os.path.basename(h["path"]) for h in rows], dtype=str)
    table["HDU_NAME"] = np.array([h["hdu_name"] for h in rows], dtype=str)
    sizes = [h["size_bytes"] for h in rows]
    if any(size is not None for size in sizes):
        table["SIZE"] = MaskedColumn([size or 0 for size in sizes], dtype=np.int64, mask=[s is None for s in sizes])
    return table


def _description(grouping: dict[str, Any], groups: dict[str, Any] | None) -> dict[str, Any]:
    """What grouping.json (and an ECSV table's meta) say about the grouping."""
    out = {key: grouping[key] for key in ("name", "method", "params", "selection", "summary")}
    out["created_at"] = grouping["created_at"].isoformat()  # UTC, time-zone aware (models.UtcDateTime)
    out["obscat_version"] = grouping["obscat_version"]
    out["exported_by"] = f"obscat {__version__}"
    if groups is not None:
        out["labels"] = groups
    return out
