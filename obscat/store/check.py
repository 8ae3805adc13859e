"""``obscat check``: compare the catalogue with the files on disk, writing nothing.

Each data file of the HDU index is compared with the version (size, mtime)
recorded at ingest, each index file and annotation-set source file with its recorded SHA-256; derived results
computed from files that changed since are counted as stale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..gadf.files import file_sha256
from ..text import plural
from .derived import pointing_results
from .engine import connect
from .file_versions import changed_uses, file_version, stale_observations, stale_value_count
from .models import AnnotationSet, DataStore, FeatureSet, FileUse, HduFile, Observation
from .rows import id_by_name

__all__ = ["FileProblem", "CheckReport", "check"]


@dataclass(frozen=True)
class FileProblem:
    """A file that is not as the catalogue recorded it."""

    store: str
    path: str
    #: "missing", "changed" or "unreadable".
    state: str
    detail: str


@dataclass
class CheckReport:
    """What :func:`check` found."""

    n_stores: int = 0
    #: Data files (of the HDU index) and index files checked.
    n_files: int = 0
    n_index_files: int = 0
    #: Source files of annotation sets (compared with their SHA-256 at ingest).
    n_annotation_files: int = 0
    problems: list[FileProblem] = field(default_factory=list)
    stale_feature_values: int = 0
    stale_pointings: int = 0

    def count(self, state: str) -> int:
        return sum(p.state == state for p in self.problems)

    def summary(self) -> str:
        annotations = f", {plural(self.n_annotation_files, 'annotation file')}" if self.n_annotation_files else ""
        return (f"checked {plural(self.n_files, 'data file')}{annotations} and {plural(self.n_index_files, 'index file')} of "
                f"{plural(self.n_stores, 'store')}: "
                f"{self.count('missing')} missing, {self.count('changed')} changed, {self.count('unreadable')} "
                f"unreadable; stale: {plural(self.stale_feature_values, 'feature value')}, "
                f"{plural(self.stale_pointings, 'pointing result')}")  # fmt: skip


def check(engine: Engine, store: str | None = None) -> CheckReport:
    """Compare every file of ``store`` (default: all stores) with what was recorded; write nothing."""
    s, f, o = DataStore.__table__, HduFile.__table__, Observation.__table__
    report = CheckReport()
    with connect(engine) as conn:
        stores = sa.select(s.c.id, s.c.name, s.c.obs_index_path, s.c.obs_index_sha256, s.c.hdu_index_path,
                           s.c.hdu_index_sha256).order_by(s.c.name)  # fmt: skip
        if store is not None:
            stores = stores.where(s.c.id == id_by_name(conn, s, store, "store"))
        for row in conn.execute(stores).all():
            report.n_stores += 1
            for path, digest in ((row.obs_index_path, row.obs_index_sha256),
                                 (row.hdu_index_path, row.hdu_index_sha256)):  # fmt: skip
                report.n_index_files += 1
                _check_index(report, row.name, path, digest)
            files = conn.execute(sa.select(f.c.path, f.c.exists_at_ingest, f.c.size_bytes, f.c.mtime_ns)
                                 .where(f.c.store_id == row.id).order_by(f.c.path)).all()  # fmt: skip
            for path, existed, size, mtime in files:
                report.n_files += 1
                problem = _check_file(conn, row.name, path, existed, (size, mtime))
                if problem is not None:
                    report.problems.append(problem)
        _check_annotation_files(conn, report, store)
        observations = sa.select(o.c.id)
        if store is not None:
            observations = observations.join(s, s.c.id == o.c.store_id).where(s.c.name == store)
        report.stale_feature_values = _stale_values(conn, observations)
        pointed = set(conn.execute(pointing_results(observations)).scalars())
        report.stale_pointings = len(stale_observations(conn, None, pointed)) if pointed else 0
    return report


def _check_index(report: CheckReport, store: str, path: str, digest: str) -> None:
    state = _state(path)
    if state is not None:
        report.problems.append(FileProblem(store, path, *state))
    elif file_sha256(path) != digest:
        report.problems.append(FileProblem(store, path, "changed", "index file changed since ingest: re-ingest"))


def _check_annotation_files(conn, report: CheckReport, store: str | None) -> None:
    """Each annotation set's source file against its SHA-256 at ingest (once per file and digest)."""
    a = AnnotationSet.__table__
    query = sa.select(a.c.store, a.c.source_path, a.c.sha256, a.c.name, a.c.version).order_by(a.c.source_path, a.c.id)
    if store is not None:
        query = query.where(a.c.store == store)
    seen: set[tuple[str, str]] = set()
    for row in conn.execute(query):
        if (row.source_path, row.sha256) in seen:
            continue
        seen.add((row.source_path, row.sha256))
        report.n_annotation_files += 1
        state = _state(row.source_path)
        if state is not None:
            report.problems.append(FileProblem(row.store, row.source_path, *state))
        elif file_sha256(row.source_path) != row.sha256:
            report.problems.append(FileProblem(row.store, row.source_path, "changed",
                                               f"changed since annotation set {row.name!r} version {row.version} was "
                                               "ingested from it: ingest it again for a new version"))  # fmt: skip


def _check_file(conn, store: str, path: str, existed: bool, recorded) -> FileProblem | None:
    state = _state(path)
    if state is not None:
        return FileProblem(store, path, *state)
    if not existed:
        return FileProblem(store, path, "changed", "missing at ingest, present now")
    current = file_version(path)
    if recorded[0] is not None and current != tuple(recorded) and not _only_touched(conn, path, current[0]):
        return FileProblem(store, path, "changed", f"size {recorded[0]} -> {current[0]} bytes, mtime "
                                                   f"{_when(recorded[1])} -> {_when(current[1])}")  # fmt: skip
    return None


def _only_touched(conn, path: str, size: int | None) -> bool:
    """Whether a file whose mtime moved still has the bytes a derived result read (same size and
    CRC-32 as a ``file_use`` row): touched, not changed, as staleness judges it.  A file gone
    (``size`` None) was not just touched."""
    if size is None:
        return False
    u = FileUse.__table__
    uses = {tuple(use) for use in conn.execute(sa.select(u.c.path, u.c.size_bytes, u.c.mtime_ns, u.c.crc32).where(
        u.c.path == path, u.c.size_bytes == size, u.c.crc32.is_not(None)).distinct())}  # fmt: skip
    return bool(uses - changed_uses(uses))


def _state(path: str) -> tuple[str, str] | None:
    """("missing"|"unreadable", why) for a file that cannot be read, else None."""
    if not os.path.lexists(path):
        return "missing", "no such file"
    if file_version(path) == (None, None):
        return "unreadable", "not a regular file (or a broken link)"
    try:
        with open(path, "rb") as stream:
            stream.read(1)
    except OSError as exc:
        return "unreadable", exc.strerror or type(exc).__name__
    return None


def _when(mtime_ns: int | None) -> str:
    import datetime as dt

    if mtime_ns is None:
        return "?"
    return dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stale_values(conn, observations) -> int:
    """Feature values (of every set) of the ``observations`` computed from files that changed since."""
    set_ids = conn.execute(sa.select(FeatureSet.__table__.c.id)).scalars().all()
    return sum(stale_value_count(conn, set_id, observations) for set_id in set_ids)
