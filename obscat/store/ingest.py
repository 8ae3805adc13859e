"""Data store → catalogue rows: one transaction per ingest, idempotent.

The flow is: read both index files and validate them completely in memory,
then write everything in one transaction.  Any error before or during the
write leaves the database exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import erfa
import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..errors import InputError, ParameterError, one_line
from ..gadf import index as gadf
from ..gadf._gzip import GZIP_ERRORS
from ..gadf.columns import HduColumns, check_hdu_observations, observation_columns, read_hdu_index
from ..gadf.file_times import fill_times_from_files
from ..gadf.times import absolute_times
from ..text import plural
from ..gadf.files import check_regular_file, file_sha256
from ..gadf.fits import read_header
from ..gadf.header import header_text
from .engine import connect, write_transaction
from .rows import bulk_insert, bulk_load, bulk_update, delete_cascade
from .derived import DerivedCounts, count_derived, remove_observations
from .file_versions import file_version
from .models import DataStore, Hdu, HduFile, JSONDocument, Observation

__all__ = ["IngestReport", "Progress", "ingest"]

#: ``progress(phase, done, total)``, called as rows are written.
Progress = Callable[[str, int, int], None]

_CHUNK = 50_000


@dataclass
class IngestReport:
    """What an ingest did."""

    store: str
    status: str  # "created", "updated", "replaced" or "unchanged"
    n_obs: int = 0
    n_hdu: int = 0
    n_files: int = 0
    n_missing_files: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    #: Derived rows deleted with the removed observations, and the groupings they left.
    derived_removed: DerivedCounts = field(default_factory=DerivedCounts)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.status == "unchanged":
            return f"store {self.store!r} is unchanged ({plural(self.n_obs, 'observation')}): nothing to do"
        text = (
            f"store {self.store!r} {self.status}: {plural(self.n_obs, 'observation')}, {plural(self.n_hdu, 'HDU')} "
            f"in {plural(self.n_files, 'file')}"
        )
        if self.status == "updated":
            text += f" ({self.added} added, {self.updated} updated, {self.removed} removed)"
        text += f" in {self.seconds:.2f} s"
        if self.derived_removed.any():
            text += f"; deleted with the {'replaced' if self.status == 'replaced' else 'removed'} observations: " \
                    f"{self.derived_removed}"
        return text


def ingest(
    engine: Engine,
    path: str | os.PathLike | None = None,
    *,
    obs_index: str | os.PathLike | None = None,
    hdu_index: str | os.PathLike | None = None,
    name: str | None = None,
    replace: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the GADF data store at ``path`` (or the two explicit index files).

    Re-ingesting an unchanged store (same index files, byte for byte) does
    nothing.  A changed index updates the store in one transaction:
    observations that disappeared are removed with everything that depends
    on them (counted in the report; groupings that lose members are marked),
    the others keep their ids and derived results, and only their index
    columns that changed are written.  A store of the same name ingested from
    other index files is replaced only with ``replace=True``: otherwise the
    error says what replacing it would delete.
    """
    start = time.perf_counter()
    obs_path, hdu_path = _locate(path, obs_index, hdu_index)
    name = _check_name(name if name is not None else _default_name(path, obs_path))
    digests = file_sha256(obs_path), file_sha256(hdu_path)

    with connect(engine) as conn:
        existing = _store_named(conn, name)
        if existing is not None and _unchanged(existing, (obs_path, hdu_path), digests):
            return _unchanged_report(conn, name, existing, start)
        if existing is not None and not replace:
            _refuse_other_source(conn, existing, (obs_path, hdu_path))

    report = IngestReport(name, "updated" if existing is not None else "created")
    # The two index files are read and checked on two cores (numpy releases the
    # GIL); errors in the obs index are reported first.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hdu_future = pool.submit(read_hdu_index, hdu_path)
        obs_table = gadf.read_index(obs_path, "OBS_INDEX")
        observations = observation_columns(obs_table)
        hdu_table, hdus = hdu_future.result()
    check_hdu_observations(hdu_table, hdus, observations["obs_id"])
    report.warnings += obs_table.warnings + hdu_table.warnings
    _warn_observations_without_hdus(hdu_table, hdus, observations["obs_id"], report)
    fill_times_from_files(observations, hdus, report.warnings)
    obs_table.table = hdu_table.table = None  # converted: free them before writing
    store_row, tref = _store_row(name, obs_table, hdu_table, digests, hdus, report)
    observations.update(_times(tref, observations, obs_table, report))

    # foreign keys unchecked on SQLite: every id written here was just read back
    # from the database, and deletes cascade through delete_cascade
    with write_transaction(engine, bulk=True) as conn:
        # Another process may have ingested this name since it was looked up above:
        # look again, now that other writers wait.
        existing = _store_named(conn, name)
        if existing is not None and _unchanged(existing, (obs_path, hdu_path), digests):
            unchanged = _unchanged_report(conn, name, existing, start)
            unchanged.warnings.append(f"another obscat process ingested store {name!r} at the same time")
            return unchanged
        report.status = "updated" if existing is not None else "created"
        if existing is not None and _other_source(existing, (obs_path, hdu_path)):
            if not replace:
                _refuse_other_source(conn, existing, (obs_path, hdu_path))
            report.status = "replaced"
            report.removed = _n_observations(conn, existing["id"])
            report.derived_removed = remove_observations(conn, Observation.__table__.c.store_id == existing["id"])
            delete_cascade(conn, DataStore.__table__, DataStore.__table__.c.id == existing["id"])
        store_id = _write_store(conn, store_row)
        obs_ids = _write_observations(conn, store_id, observations, report, progress)
        _write_hdus(conn, store_id, hdus, obs_ids, report, progress)
    report.seconds = time.perf_counter() - start
    return report


# -- locating and naming ---------------------------------------------------------------


def _locate(path, obs_index, hdu_index) -> tuple[Path, Path]:
    if obs_index is not None or hdu_index is not None:
        if obs_index is None or hdu_index is None:
            raise ParameterError("give both `obs_index` and `hdu_index`, or a directory")
        base = Path(path) if path is not None else Path(".")
        return tuple(p if p.is_absolute() or not (base / p).exists() else base / p
                     for p in (Path(obs_index), Path(hdu_index)))  # fmt: skip
    if path is None:
        raise ParameterError("give a data store directory (`path`), or `obs_index` and `hdu_index`")
    return gadf.find_index_files(Path(path))


def _default_name(path, obs_path: Path) -> str:
    return Path(os.path.abspath(path if path is not None else obs_path.parent)).name


def _check_name(name: str) -> str:
    if not name or not name.strip():
        raise InputError("store name must not be empty")
    if len(name) > 200:
        raise InputError(f"store name is {len(name)} characters long; at most 200 are allowed")
    if not name.isprintable():
        raise InputError(f"store name {name!r} contains control characters")
    return name


def _store_named(conn: Connection, name: str):
    """The ``data_store`` row named ``name`` (a mapping), or None."""
    return conn.execute(sa.select(DataStore.__table__).where(DataStore.name == name)).mappings().first()


def _n_observations(conn: Connection, store_id: int) -> int:
    return conn.execute(sa.select(sa.func.count()).where(Observation.store_id == store_id)).scalar_one()


def _unchanged_report(conn: Connection, name: str, existing, start: float) -> IngestReport:
    return IngestReport(name, "unchanged", n_obs=_n_observations(conn, existing["id"]),
                        seconds=time.perf_counter() - start)  # fmt: skip


def _other_source(existing, paths: tuple[Path, Path]) -> bool:
    """Whether the store was ingested from other index files than ``paths``."""
    return (existing["obs_index_path"], existing["hdu_index_path"]) != tuple(str(p.resolve()) for p in paths)


def _refuse_other_source(conn: Connection, existing, paths: tuple[Path, Path]) -> None:
    """Raise if ``paths`` are not the index files the store was ingested from: say what replacing would delete."""
    if not _other_source(existing, paths):
        return
    where = Observation.__table__.c.store_id == existing["id"]
    counts = count_derived(conn, where)
    raise ParameterError(
        f"store {existing['name']!r} was ingested from {existing['obs_index_path']} and "
        f"{existing['hdu_index_path']}: ingesting {paths[0].resolve()} under its name would delete its "
        f"{_n_observations(conn, existing['id'])} observations, {counts}; give another `name`, or pass "
        "`replace=True` to replace it"
    )


def _unchanged(existing, paths: tuple[Path, Path], digests: tuple[str, str]) -> bool:
    return (
        (existing["obs_index_sha256"], existing["hdu_index_sha256"]) == digests
        and existing["obs_index_path"] == str(paths[0].resolve())
        and existing["hdu_index_path"] == str(paths[1].resolve())
    )


# -- store row and times ---------------------------------------------------------------


def _store_row(name, obs_table, hdu_table, digests: tuple[str, str], hdus: HduColumns, report: IngestReport) -> tuple[dict[str, Any], gadf.TimeReference | None]:
    """The ``data_store`` row; header metadata missing from the obs index is
    taken from the EVENTS header of its first observation (GADF puts it there too)."""
    header = obs_table.header
    tref = gadf.time_reference(obs_table)
    site = gadf.site_location(obs_table)
    events = None
    if tref is None or site.geolon_deg is None or "TELESCOP" not in header:
        events = _first_events_header(hdus, report)
    if events is not None:
        events_index, source = events
        if tref is None:
            tref = gadf.time_reference(events_index)
            if tref is not None:
                tref.source = source
                report.warnings.append(f"{obs_table.path.name} has no MJDREFI/MJDREFF: time reference taken from {source}")
        if site.geolon_deg is None:
            site = gadf.site_location(events_index)
        header = events_index.header if "TELESCOP" not in header else header
    if tref is None:
        report.warnings.append(f"{obs_table.path.name} has no time reference (MJDREFI/MJDREFF): absolute times are NULL")
    return {
        "name": name,
        "root_path": str(obs_table.path.resolve().parent),
        "obs_index_path": str(obs_table.path.resolve()),
        "obs_index_sha256": digests[0],
        "hdu_index_path": str(hdu_table.path.resolve()),
        "hdu_index_sha256": digests[1],
        "hduvers": header_text(obs_table.header, "HDUVERS"),
        "telescope": header_text(header, "TELESCOP"),
        "instrument": header_text(header, "INSTRUME"),
        "geolon_deg": site.geolon_deg,
        "geolat_deg": site.geolat_deg,
        "altitude_m": site.altitude_m,
        "mjdrefi": tref.mjdrefi if tref else None,
        "mjdreff": tref.mjdreff if tref else None,
        "timesys": tref.timesys if tref else None,
        "timeunit": tref.timeunit if tref else None,
        "timeref": tref.timeref if tref else None,
        "time_reference_source": tref.source if tref else None,
        "header": {"obs_index": obs_table.header_dict(), "hdu_index": hdu_table.header_dict()},
        "ingested_at": dt.datetime.now(dt.UTC),
        "obscat_version": __version__,
    }, tref


def _first_events_header(hdus: HduColumns, report: IngestReport) -> tuple[gadf.IndexTable, str] | None:
    rows = np.flatnonzero(hdus.hdu_type == "events")
    names, name_codes = hdus.hdu_name
    for row in rows[:1]:
        path = hdus.paths[hdus.file_index[row]]
        try:
            check_regular_file(path)  # never open a FIFO or a device
            header = read_header(path, names[name_codes[row]]).header
        except InputError as exc:
            report.warnings.append(f"cannot read EVENTS header of OBS_ID {hdus.obs_id[row]}: {exc}")
            return None
        except (OSError, ValueError, *GZIP_ERRORS) as exc:
            report.warnings.append(f"cannot read EVENTS header of OBS_ID {hdus.obs_id[row]} in {path}: {one_line(exc)}")
            return None
        source = f"EVENTS header of OBS_ID {hdus.obs_id[row]}"
        return gadf.IndexTable(path=Path(path), header=header, table=None), source
    return None


def _times(tref: gadf.TimeReference | None, columns: dict[str, Any], obs_table, report: IngestReport) -> dict[str, Any]:
    names = [f"{t}_{k}" for t in ("tstart", "tstop", "tmid") for k in ("mjd", "utc")]
    if tref is None:
        return dict.fromkeys(names)
    for name in ("TSTART", "TSTOP"):
        mjd = tref.mjdrefi + tref.mjdreff + columns[f"{name.lower()}_s"] / 86400.0
        outside = (mjd < _MJD_YEAR_1) | (mjd >= _MJD_YEAR_10000)
        if np.any(outside):
            row = int(np.flatnonzero(outside)[0])
            raise InputError(f"{obs_table.path}: row {row + 1} (OBS_ID {columns['obs_id'][row]}): {name} "
                             f"{columns[f'{name.lower()}_s'][row]:g} s after MJDREF is MJD {mjd[row]:.6g}, "
                             "outside the years 1 to 9999")  # fmt: skip
    known = np.isfinite(columns["tstart_s"])  # NULL times (no TSTART/TSTOP anywhere) stay NULL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year": reported below, on one line
        times = absolute_times(tref, columns["tstart_s"][known], columns["tstop_s"][known])
    if not np.all(known):
        times = {name: _scatter(values, known) for name, values in times.items()}
    with np.errstate(invalid="ignore"):
        early = times["tstart_mjd"] < _MJD_UTC_START
    if np.any(early):
        row, n_early = int(np.flatnonzero(early)[0]), int(early.sum())
        report.warnings.append(
            f"{obs_table.path}: {plural(n_early, 'observation')} start{'s' if n_early == 1 else ''} before 1960, "
            "where UTC is undefined (first: "
            f"row {row + 1}, OBS_ID {columns['obs_id'][row]}, {_text(times['tstart_utc'][row])}): their UTC "
            "times are approximate"
        )
    return times


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _scatter(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``values`` of the ``known`` rows spread over all rows, the others NaN (numbers) or None (text)."""
    if values.dtype.kind == "f":
        out = np.full(len(known), np.nan)
    else:
        out = np.full(len(known), None, dtype=object)
        values = np.char.decode(values, "ascii")
    out[known] = values
    return out


_MJD_YEAR_1, _MJD_YEAR_10000 = -678575.0, 2973484.0  # 0001-01-01 and 10000-01-01
_MJD_UTC_START = 36934.0  # 1960-01-01: ERFA's leap-second table (and UTC) begins there


def _warn_observations_without_hdus(index, hdus: HduColumns, obs_ids: np.ndarray, report: IngestReport) -> None:
    lonely = ~np.isin(obs_ids, hdus.obs_id)
    if np.any(lonely):
        ids = ", ".join(str(i) for i in obs_ids[lonely][:5]) + (" ..." if lonely.sum() > 5 else "")
        report.warnings.append(f"{index.path}: {int(lonely.sum())} of {len(obs_ids)} observations have no HDU "
                               f"(OBS_ID {ids})")  # fmt: skip


# -- writing ---------------------------------------------------------------------------


def _write_store(conn: Connection, row: dict[str, Any]) -> int:
    table = DataStore.__table__
    store_id = conn.execute(sa.select(table.c.id).where(table.c.name == row["name"])).scalar()
    if store_id is None:
        return conn.execute(sa.insert(table).values(**row).returning(table.c.id)).scalar_one()
    conn.execute(sa.update(table).where(table.c.id == store_id).values(**row))
    return store_id


def _write_observations(conn, store_id, columns, report, progress) -> dict[int, int]:
    """Insert new, update kept and delete vanished observations; return obs_id → id."""
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
    return _id_map(conn, table, "obs_id", store_id)


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


def _id_map(conn: Connection, table: sa.Table, key: str, store_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, ids)`` of a store's rows, sorted by key (read through the driver: fast)."""
    cursor = conn.connection.driver_connection.cursor()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    cursor.execute(f"SELECT {key}, id FROM {table.name} WHERE store_id = {mark} ORDER BY {key}", (store_id,))
    pairs = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
    cursor.close()
    return pairs[:, 0], pairs[:, 1]


def _write_hdus(conn, store_id, hdus: HduColumns, obs_ids: tuple[np.ndarray, np.ndarray], report, progress) -> None:
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
