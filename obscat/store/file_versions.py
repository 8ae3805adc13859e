"""File versions: a data file's size, modification time and CRC-32, recorded and compared.

Ingest records each data file's size and mtime in ``hdu_file`` (a stat: no
file is read).  A derived result (feature values, the pointing at mid-time)
records in ``file_use`` the size, mtime and CRC-32 of each file it read, taken
just before reading it.  A recorded file is unchanged when its size and mtime
are as recorded, or when only its mtime moved and its bytes still have the
recorded CRC-32 (the digest is computed only then).  Results computed from a
changed or missing file are stale.  Why CRC-32, and its cost: docs/data-safety.md.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["file_version", "file_crc32", "changed_uses", "record_uses", "stale_observations", "stale_value_count",
           "gone_observations"]

#: (size in bytes, mtime in ns); (None, None) for a missing file.
Version = tuple[int | None, int | None]
#: (path, size, mtime_ns, crc32) as recorded in ``file_use``.
Use = tuple[str, int | None, int | None, int | None]

_BLOCK = 1 << 20


def file_version(path: str | os.PathLike) -> Version:
    """``(size in bytes, mtime in ns)`` of a regular file; ``(None, None)`` if it is missing or not one."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None, None
    if not stat.S_ISREG(st.st_mode):
        return None, None
    return st.st_size, st.st_mtime_ns


def file_crc32(path: str | os.PathLike) -> int | None:
    """zlib CRC-32 of the file's bytes (as stored: the gzip stream of a .gz); None if it cannot be read."""
    value = 0
    try:
        with open(path, "rb") as stream:
            while block := stream.read(_BLOCK):
                value = zlib.crc32(block, value)
    except OSError:
        return None
    return value


def _versions(paths: Iterable[str]) -> dict[str, tuple[int | None, int | None, int | None]]:
    """``path -> (size, mtime_ns, crc32)`` of each distinct regular file (missing: all None)."""
    out = {}
    for path in set(paths):
        size, mtime = file_version(path)
        out[path] = (size, mtime, file_crc32(path) if size is not None else None)
    return out


def changed_uses(uses: Iterable[Use]) -> set[Use]:
    """The recorded ``(path, size, mtime_ns, crc32)`` the file no longer matches (each path stat'ed,
    and digested only if its mtime alone moved, once)."""
    current: dict[str, Version] = {}
    digests: dict[str, int | None] = {}
    out: set[Use] = set()
    for use in uses:
        path, size, mtime, crc = use
        if path not in current:
            current[path] = file_version(path)
        now = current[path]
        if size is not None and now == (size, mtime):
            continue
        if size is not None and now[0] == size and crc is not None:
            if path not in digests:
                digests[path] = file_crc32(path)
            if digests[path] == crc:
                continue  # touched, not changed
        out.add((path, size, mtime, crc))
    return out


def record_uses(conn: Connection, feature_set_id: int | None, uses: Mapping[int, Iterable[str]],
                versions: dict[str, tuple]) -> None:  # fmt: skip
    """Replace the ``file_use`` rows of ``(feature_set_id, observation)`` for the observations
    in ``uses`` (observation id -> paths read), with the ``versions`` (from :func:`read_versions`)."""
    from .models import FileUse
    from .rows import bulk_insert, ids_condition, param_mark

    table = FileUse.__table__
    ids = sorted(uses)
    condition, param = ids_condition(conn, "observation_id", ids)
    # "+": found through the observations' index, not by scanning all of the set's rows once per batch
    of_set = "+feature_set_id IS NULL" if feature_set_id is None else f"+feature_set_id = {param_mark(conn)}"
    conn.exec_driver_sql(f"DELETE FROM file_use WHERE {of_set} AND {condition}",
                         (param,) if feature_set_id is None else (feature_set_id, param))  # fmt: skip
    bulk_insert(conn, table, ["observation_id", "feature_set_id", "path", "size_bytes", "mtime_ns", "crc32"],
                ((i, feature_set_id, p, *versions[p]) for i in ids for p in sorted(set(uses[i]))))  # fmt: skip


def read_versions(uses: Mapping[int, Iterable[str]]) -> dict[str, tuple]:
    """The versions of every file in ``uses``, taken before the files are read for a result."""
    return _versions(p for paths in uses.values() for p in paths)


def stale_observations(conn: Connection, feature_set_id: int | None, observation_ids: Iterable[int]) -> set[int]:
    """Those of ``observation_ids`` whose result (of a feature set; None: the pointing) was computed
    from a file that has changed since, or has no record of its files (computed before obscat
    recorded them)."""
    from .models import FileUse

    table = FileUse.__table__
    rows = conn.execute(sa.select(table.c.observation_id, table.c.path, table.c.size_bytes, table.c.mtime_ns,
                                  table.c.crc32).where(_of(table, feature_set_id))).all()  # fmt: skip
    wanted = set(observation_ids)
    rows = [row for row in rows if row[0] in wanted]
    changed = changed_uses(tuple(row[1:]) for row in rows)
    recorded = {row[0] for row in rows}
    return {row[0] for row in rows if tuple(row[1:]) in changed} | (wanted - recorded)


def stale_value_count(conn: Connection, feature_set_id: int, observations=None) -> int:
    """How many values of the feature set (of ``observations``, a select of observation ids, if
    given) were computed from files that changed since."""
    from .models import FeatureValue

    v = FeatureValue.__table__
    query = sa.select(v.c.observation_id, sa.func.count()).where(v.c.feature_set_id == feature_set_id)
    if observations is not None:
        query = query.where(v.c.observation_id.in_(observations))
    counts: dict[int, int] = dict(conn.execute(query.group_by(v.c.observation_id)).all())
    return sum(counts[i] for i in stale_observations(conn, feature_set_id, counts)) if counts else 0


def gone_observations(conn: Connection, feature_set_id: int | None, observation_ids: Iterable[int]) -> set[int]:
    """Those of ``observation_ids`` whose result was computed from a file that was read then and is
    missing (or not a regular file) now: recomputing them would replace it with NULL."""
    from .models import FileUse

    table = FileUse.__table__
    wanted = set(observation_ids)
    rows = conn.execute(sa.select(table.c.observation_id, table.c.path).where(
        _of(table, feature_set_id), table.c.size_bytes.is_not(None))).all()  # fmt: skip
    rows = [row for row in rows if row[0] in wanted]
    gone = {path for path in {row[1] for row in rows} if file_version(path) == (None, None)}
    return {row[0] for row in rows if row[1] in gone}


def _of(table: sa.Table, feature_set_id: int | None):
    return table.c.feature_set_id.is_(None) if feature_set_id is None else table.c.feature_set_id == feature_set_id
