"""File versions: a data file's size and modification time, recorded and compared.

Ingest records each data file's version in ``hdu_file``; a derived result
records, in ``file_use``, the versions of the files it was read from.  A file
whose size or mtime differs from the recorded one has changed; the derived
results that used it are stale.  (Why size + mtime and no content digest:
docs/data-safety.md.)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

__all__ = ["file_version", "file_state", "changed_uses", "record_uses", "stale_observations"]

Version = tuple[int | None, int | None]


def file_version(path: str | os.PathLike) -> Version:
    """``(size in bytes, mtime in ns)`` of a regular file; ``(None, None)`` if it is missing or not one."""
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    if not stat.S_ISREG(st.st_mode):
        return None, None
    return st.st_size, st.st_mtime_ns


def file_state(path: str, recorded: Version) -> str:
    """``"ok"``, ``"missing"``, ``"changed"`` (size or mtime differs) or ``"unreadable"`` (no read permission)."""
    current = file_version(path)
    if current == (None, None):
        return "missing"
    if current != tuple(recorded):
        return "changed"
    if not os.access(path, os.R_OK):
        return "unreadable"
    return "ok"


def changed_uses(uses: Iterable[tuple[str, int | None, int | None]]) -> set[tuple[str, int | None, int | None]]:
    """The ``(path, size, mtime_ns)`` records the file no longer matches (each path stat'ed once)."""
    current: dict[str, Version] = {}
    out = set()
    for use in uses:
        if use[0] not in current:
            current[use[0]] = file_version(use[0])
        if current[use[0]] != (use[1], use[2]) or use[1] is None:
            out.add(tuple(use))
    return out


def record_uses(conn, feature_set_id: int | None, uses: dict[int, Iterable[str]], versions: dict[str, Version]) -> None:
    """Replace the ``file_use`` rows of ``(feature_set_id, observation)`` for the observations
    in ``uses`` (observation id -> paths read), with the ``versions`` the files had when read."""
    import sqlalchemy as sa

    from .db import bulk_insert
    from .models import FileUse

    table = FileUse.__table__
    which = table.c.feature_set_id.is_(None) if feature_set_id is None else table.c.feature_set_id == feature_set_id
    ids = sorted(uses)
    for lo in range(0, len(ids), 10_000):
        conn.execute(sa.delete(table).where(which, table.c.observation_id.in_(ids[lo:lo + 10_000])))
    bulk_insert(conn, table, ["observation_id", "feature_set_id", "path", "size_bytes", "mtime_ns"],
                ((i, feature_set_id, p, *versions[p]) for i in ids for p in sorted(set(uses[i]))))  # fmt: skip


def stale_observations(conn, feature_set_id: int | None, observation_ids: Iterable[int]) -> set[int]:
    """Those of ``observation_ids`` whose result (of a feature set; None: the pointing) was computed
    from a file that has changed since, or has no record of its files (computed before obscat recorded them)."""
    import sqlalchemy as sa

    from .models import FileUse

    table = FileUse.__table__
    which = table.c.feature_set_id.is_(None) if feature_set_id is None else table.c.feature_set_id == feature_set_id
    rows = conn.execute(sa.select(table.c.observation_id, table.c.path, table.c.size_bytes, table.c.mtime_ns)
                        .where(which)).all()  # fmt: skip
    changed = changed_uses(row[1:] for row in rows)
    wanted = set(observation_ids)
    recorded = {row[0] for row in rows}
    return {row[0] for row in rows if tuple(row[1:]) in changed and row[0] in wanted} | (wanted - recorded)
