"""A stored grouping as files: one GADF data store per group, or one table.

:func:`export_gadf` writes, per group label, an ``obs-index.fits.gz`` and an
``hdu-index.fits.gz`` that point at the original files, so that Gammapy's
``DataStore.from_dir`` opens each group as it is.  :func:`export_table` writes
every member with its label and observation columns as CSV or ECSV.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..errors import InputError, ParameterError
from ..formats import to_csv, to_table
from ..gadf._gzip import compress
from ..gadf.files import is_regular_file, replacing
from ..store.engine import connect
from ..store.models import OBSERVATION_COLUMNS, Grouping, GroupMember
from ..store.rows import id_by_name
from .index_tables import (
    fetch_hdus,
    fetch_members,
    hdu_index_table,
    member_query,
    obs_header,
    obs_index_table,
    store_rows,
)
from .match_stored import pair_table

__all__ = ["export_gadf", "export_table", "MissingFilesWarning", "check_target", "staged_directory", "write_fits_gz"]


class MissingFilesWarning(UserWarning):
    """An export (with ``allow_missing``) points at data files that do not exist."""


def export_gadf(engine: Engine, name: str, directory: Path, *, allow_missing: bool = False) -> list[Path]:
    """Write grouping ``name`` as one GADF data store per group under ``directory``.

    Each ``directory/<label>/`` holds an obs index (GADF column names and units,
    the store's time reference and site in the header) and an HDU index whose
    absolute FILE_DIR points at the original files; ``directory/grouping.json``
    describes the grouping; a match's ``directory/pairs.ecsv`` lists its pairs (ON and OFF store,
    OBS_ID, rank, distance) beside ``on/`` and ``off/``.  ``directory`` must be absent or empty; everything is
    written beside it first and renamed into place.  Returns the group directories.

    A grouping whose observations' data files are missing (not regular files
    now) is refused with their names; ``allow_missing`` exports it anyway, with
    a :class:`MissingFilesWarning` naming them.
    """
    directory = Path(directory)
    check_target(directory)
    with connect(engine) as conn:
        grouping = _grouping(conn, name)
        members = fetch_members(conn, grouping_id=grouping["id"])
        stores = store_rows(conn, set(members.store.tolist()))
        hdus = fetch_hdus(conn, _member_ids(grouping["id"]), members)
        pairs = pair_table(conn, name) if grouping["method"] == "match" else None
    _check_files(name, hdus.paths, allow_missing)
    folders = _folders(name, sorted(set(members.label.tolist())))
    obs_index = obs_index_table(members)
    with staged_directory(directory) as tmp:
        groups = {}
        for label, folder in folders.items():
            selected = members.label == label
            group_stores = members.store[selected].tolist()
            table = obs_index[selected]
            table.meta.update(obs_header(f"grouping {name!r}: group {label!r}", members.obs_id[selected],
                                         [stores[s] for s in sorted(set(group_stores))]))  # fmt: skip
            (tmp / folder).mkdir()
            write_fits_gz(table, tmp / folder / "obs-index.fits.gz")
            write_fits_gz(hdu_index_table(members, hdus, selected), tmp / folder / "hdu-index.fits.gz")
            obs_ids = {store: members.obs_id[selected & (members.store == store)].tolist()
                       for store in dict.fromkeys(group_stores)}  # fmt: skip
            groups[label] = {"directory": folder, "n_obs": len(group_stores), "obs_ids": obs_ids}
        (tmp / "grouping.json").write_text(json.dumps(_description(grouping, groups), indent=1) + "\n")
        if pairs is not None:  # a match: which OFF runs (in off/) go with which ON run (in on/)
            pairs.meta.update(_description(grouping, None))
            pairs.write(tmp / "pairs.ecsv", format="ascii.ecsv")
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
        rows = conn.execute(member_query(list(OBSERVATION_COLUMNS), grouping_id=grouping["id"])).all()
    names = ["label", "store", *OBSERVATION_COLUMNS]
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        if fmt == "csv":
            tmp.write_text(to_csv(names, rows))
        else:
            table = to_table(names, rows)
            table.meta.update(_description(grouping, None))
            table.write(tmp, format="ascii.ecsv")
    return path


def check_target(directory: Path) -> None:
    """Refuse ``directory`` unless it is absent or an empty directory."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory}: exists and is not an empty directory")


@contextlib.contextmanager
def staged_directory(directory: Path) -> Iterator[Path]:
    """A new directory beside ``directory`` to write into, renamed to ``directory`` (absent or empty)
    when the block ends, removed with what it holds if the block raises: all or nothing."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.replace(tmp, directory)  # replaces an empty directory, fails on a non-empty one
        except OSError as exc:
            raise InputError(f"{directory}: cannot write the export there ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_fits_gz(table, path: Path) -> None:
    """``table`` as a gzip-compressed FITS file (compressed by :func:`obscat.gadf._gzip.compress`)."""
    buffer = io.BytesIO()
    table.write(buffer, format="fits")
    path.write_bytes(compress(buffer.getvalue()))


def _grouping(conn: Connection, name: str) -> dict[str, Any]:
    g = Grouping.__table__
    grouping_id = id_by_name(conn, g, name, "grouping")
    return dict(conn.execute(sa.select(g).where(g.c.id == grouping_id)).mappings().one())


def _member_ids(grouping_id: int) -> sa.Select:
    m = GroupMember.__table__
    return sa.select(m.c.observation_id).where(m.c.grouping_id == grouping_id)


def _check_files(name: str, paths: list[str], allow_missing: bool) -> None:
    """Refuse (or, with ``allow_missing``, warn about) data files ``paths`` that do not exist."""
    paths = sorted(paths)
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


def _description(grouping: dict[str, Any], groups: dict[str, Any] | None) -> dict[str, Any]:
    """What grouping.json (and an ECSV table's meta) say about the grouping."""
    out = {key: grouping[key] for key in ("name", "method", "params", "selection", "summary")}
    out["created_at"] = grouping["created_at"].isoformat()  # UTC, time-zone aware (models.UtcDateTime)
    out["obscat_version"] = grouping["obscat_version"]
    out["exported_by"] = f"obscat {__version__}"
    if groups is not None:
        out["labels"] = groups
    return out
