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

__all__ = ["file_version", "file_state", "changed_uses"]

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
