"""Writing an ingest's rows: the ``data_store`` row, the observations (new ones inserted, changed ones
updated, vanished ones removed with what depends on them) and the HDU index, rewritten whole."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..gadf.hdu_columns import HduColumns
from .derived import DerivedCounts, remove_observations
from .file_versions import file_version
from .models import DataStore, Hdu, HduFile, JSONDocument, Observation
from .rows import bulk_insert, bulk_load, bulk_update, delete_cascade, id_map

if TYPE_CHECKING:
    from .ingest import IngestReport, Progress

__all__ = ["write_store", "write_observations", "write_hdus"]

_CHUNK = 50_000


def write_store(conn: Connection, row: dict[str, Any]) -> int:
    """Insert or update the ``data_store`` row; return its id."""
    table = DataStore.__table__
    store_id = conn.execute(sa.select(table.c.id).where(table.c.name == row["name"])).scalar()
    if store_id is None:
        return conn.execute(sa.insert(table).values(**row).returning(table.c.id)).scalar_one()
    conn.execute(sa.update(table).where(table.c.id == store_id).values(**row))
    return store_id


def write_observations(conn: Connection, store_id: int, columns: dict[str, Any], report: IngestReport,
                       progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Insert new, update kept and delete vanished observations; return ``(obs_ids, ids)`` sorted by OBS_ID."""
    table = Observation.__table__
    existing = dict(conn.execute(sa.select(table.c.obs_id, table.c.id).where(table.c.store_id == store_id)).all())
    obs_id = columns["obs_id"]
    n = len(obs_id)
    kept = np.isin(obs_id, np.fromiter(existing, dtype=np.int64, count=len(existing)))
    vanished = sorted(set(existing) - set(obs_id.tolist()))
    if vanished:
        vanished_ids = [existing[i] for i in vanished]
        report.derived_removed = _remove_observations(conn, vanished_ids)
    # HDU rows and files are rewritten whole below
    delete_cascade(conn, HduFile.__table__, HduFile.__table__.c.store_id == store_id)

    names = [c.name for c in table.columns if c.name != "id"]
    columns["store_id"] = np.full(n, store_id, dtype=np.int64)
    total = n
    done = 0
    n_changed = 0
    if np.any(kept):
        key = names.index("obs_id")
        stored = _stored_rows(conn, table, names, store_id)
        json_at = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSONDocument)]

        def changed_rows_with_id() -> Iterator[list[tuple]]:
            nonlocal done, n_changed
            for rows in _row_chunks(columns, names, np.flatnonzero(kept)):
                changed = [(*row, existing[row[key]]) for row in rows if not _same(stored[row[key]], row, json_at)]
                n_changed += len(changed)
                yield changed
                done += len(rows)
                _report(progress, "observations", done, total)

        bulk_update(conn, table, names, "id", itertools.chain.from_iterable(changed_rows_with_id()))
    new = np.flatnonzero(~kept)
    if len(new):
        present = [name for name in names if columns.get(name) is not None]  # absent ones default to NULL

        def new_rows() -> Iterator[list[tuple]]:
            nonlocal done
            for rows in _row_chunks(columns, present, new):
                yield rows
                done += len(rows)
                _report(progress, "observations", done, total)

        with bulk_load(conn, table, len(new)):
            bulk_insert(conn, table, present, itertools.chain.from_iterable(new_rows()))
    report.n_obs, report.added, report.updated = n, len(new), n_changed
    report.removed += len(vanished)
    return id_map(conn, table, "obs_id", store_id)


def _stored_rows(conn: Connection, table: sa.Table, names: list[str], store_id: int) -> dict[int, tuple]:
    """A store's observations as written by ingest: OBS_ID -> the ``names`` values (JSON as text)."""
    key = names.index("obs_id")
    columns = [sa.cast(c, sa.Text) if isinstance(c.type, JSONDocument) else c for c in (table.c[n] for n in names)]
    return {row[key]: tuple(row) for row in conn.execute(sa.select(*columns).where(table.c.store_id == store_id))}


def _same(stored: tuple, row: tuple, json_at: list[int]) -> bool:
    """Whether an index row equals the stored one; JSON texts are compared parsed when they differ
    as text (PostgreSQL's JSONB writes them its own way)."""
    if stored == row:
        return True
    differ = [i for i, (a, b) in enumerate(zip(stored, row)) if a != b]
    return all(i in json_at and None not in (stored[i], row[i]) and json.loads(stored[i]) == json.loads(row[i])
               for i in differ)  # fmt: skip


def _remove_observations(conn: Connection, ids: list[int]) -> DerivedCounts:
    """:func:`~obscat.store.derived.remove_observations` of the observations ``ids``, in chunks."""
    counts = DerivedCounts()
    for chunk in _chunks(ids, 10_000):
        counts += remove_observations(conn, Observation.__table__.c.id.in_(chunk))
    return counts


def write_hdus(conn: Connection, store_id: int, hdus: HduColumns, obs_ids: tuple[np.ndarray, np.ndarray],
               report: IngestReport, progress: Progress | None) -> None:  # fmt: skip
    """Write the store's files (with their versions) and HDU rows; ``obs_ids`` maps OBS_ID to observation id."""
    files = HduFile.__table__
    versions = [file_version(p) if e else (None, None) for p, e in zip(hdus.paths, hdus.exists)]
    bulk_insert(conn, files, ["store_id", "path", "exists_at_ingest", "size_bytes", "mtime_ns"],
                ((store_id, p, e, *v) for p, e, v in zip(hdus.paths, hdus.exists, versions)))  # fmt: skip
    file_ids = dict(conn.execute(sa.select(files.c.path, files.c.id).where(files.c.store_id == store_id)).all())
    file_id = np.array([file_ids[p] for p in hdus.paths], dtype=np.int64)[hdus.file_index]
    keys, values = obs_ids
    observation_id = values[np.searchsorted(keys, hdus.obs_id)]
    n = len(observation_id)
    size = hdus.size if hdus.size is not None else np.full(n, None, dtype=object)

    names, name_codes = hdus.hdu_name

    def rows() -> Iterator[Iterator[tuple]]:
        for lo in range(0, n, _CHUNK):
            hi = min(lo + _CHUNK, n)
            yield zip(
                observation_id[lo:hi].tolist(), file_id[lo:hi].tolist(), hdus.hdu_type[lo:hi].tolist(),
                hdus.hdu_class[lo:hi].tolist(), names[name_codes[lo:hi]].tolist(), size[lo:hi].tolist(),
            )  # fmt: skip
            _report(progress, "hdus", hi, n)

    columns = ["observation_id", "file_id", "hdu_type", "hdu_class", "hdu_name", "size_bytes"]
    with bulk_load(conn, Hdu.__table__, n):
        bulk_insert(conn, Hdu.__table__, columns, itertools.chain.from_iterable(rows()))
    report.n_hdu, report.n_files = n, len(hdus.paths)
    report.n_missing_files = hdus.exists.count(False)
    if report.n_missing_files:
        first = hdus.paths[hdus.exists.index(False)]
        report.warnings.append(f"{report.n_missing_files} of {len(hdus.paths)} files in the HDU index do not exist "
                               f"or are not regular files (first: {first})")  # fmt: skip


def _row_chunks(columns: dict[str, Any], names: list[str], rows: np.ndarray) -> Iterator[list[tuple]]:
    """Rows (tuples in ``names`` order) in chunks; NaN and missing columns become NULL."""
    for lo in range(0, len(rows), _CHUNK):
        idx = rows[lo:lo + _CHUNK]
        lists = []
        for name in names:
            values = columns.get(name)
            if values is None:
                lists.append([None] * len(idx))
                continue
            part = values[idx]
            if part.dtype.kind == "S":
                part = np.char.decode(part, "utf-8")
            if part.dtype.kind == "f":
                nan = np.isnan(part)
                if nan.any():
                    part = part.astype(object)
                    part[nan] = None
            lists.append(part.tolist())
        yield list(zip(*lists))


def _chunks(items: list, size: int) -> Iterator[list]:
    for lo in range(0, len(items), size):
        yield items[lo:lo + size]


def _report(progress: Progress | None, phase: str, done: int, total: int) -> None:
    if progress is not None:
        progress(phase, done, total)
