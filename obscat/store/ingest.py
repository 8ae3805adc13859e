"""Data store → catalogue rows: one transaction per ingest, idempotent.

The flow is: read both index files and validate them completely in memory,
then write everything in one transaction.  Any error before or during the
write leaves the database exactly as it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.engine import Connection, Engine, RowMapping

from ..gadf import index as gadf
from ..gadf.file_times import fill_times_from_files
from ..gadf.files import file_sha256
from ..gadf.hdu_columns import HduColumns, check_hdu_observations, read_hdu_index
from ..text import plural
from .derived import DerivedCounts, remove_observations
from .engine import connect, write_transaction
from .epochs import assign_epochs
from .ingest_identity import (
    check_name,
    default_name,
    is_unchanged,
    locate_index_files,
    n_observations,
    other_source,
    refuse_other_source,
    store_named,
)
from .ingest_metadata import absolute_observation_times, store_row
from .ingest_rows import write_hdus, write_observations, write_store
from .models import DataStore, Observation
from .observation_columns import observation_columns
from .rows import delete_cascade

__all__ = ["IngestReport", "Progress", "ingest"]

#: ``progress(phase, done, total)``, called as rows are written.
Progress = Callable[[str, int, int], None]


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
    obs_path, hdu_path = locate_index_files(path, obs_index, hdu_index)
    name = check_name(name if name is not None else default_name(path, obs_path))
    digests = file_sha256(obs_path), file_sha256(hdu_path)

    with connect(engine) as conn:
        existing = store_named(conn, name)
        if existing is not None and is_unchanged(existing, (obs_path, hdu_path), digests):
            return _unchanged_report(conn, name, existing, start)
        if existing is not None and not replace:
            refuse_other_source(conn, existing, (obs_path, hdu_path))

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
    row, tref = store_row(name, obs_table, hdu_table, digests, hdus, report)
    observations.update(absolute_observation_times(tref, observations, obs_table, report))

    # foreign keys unchecked on SQLite: every id written here was just read back
    # from the database, and deletes cascade through delete_cascade
    with write_transaction(engine, bulk=True) as conn:
        # Another process may have ingested this name since it was looked up above:
        # look again, now that other writers wait.
        existing = store_named(conn, name)
        if existing is not None and is_unchanged(existing, (obs_path, hdu_path), digests):
            unchanged = _unchanged_report(conn, name, existing, start)
            unchanged.warnings.append(f"another obscat process ingested store {name!r} at the same time")
            return unchanged
        report.status = "updated" if existing is not None else "created"
        if existing is not None and other_source(existing, (obs_path, hdu_path)):
            if not replace:
                refuse_other_source(conn, existing, (obs_path, hdu_path))
            report.status = "replaced"
            report.removed = n_observations(conn, existing["id"])
            report.derived_removed = remove_observations(conn, Observation.__table__.c.store_id == existing["id"])
            delete_cascade(conn, DataStore.__table__, DataStore.__table__.c.id == existing["id"])
        store_id = write_store(conn, row)
        obs_ids = write_observations(conn, store_id, observations, report, progress)
        write_hdus(conn, store_id, hdus, obs_ids, report, progress)
        assign_epochs(conn, store_id)
    report.seconds = time.perf_counter() - start
    return report


def _unchanged_report(conn: Connection, name: str, existing: RowMapping, start: float) -> IngestReport:
    return IngestReport(name, "unchanged", n_obs=n_observations(conn, existing["id"]),
                        seconds=time.perf_counter() - start)  # fmt: skip


def _warn_observations_without_hdus(index: gadf.IndexTable, hdus: HduColumns, obs_ids: np.ndarray, report: IngestReport) -> None:
    lonely = ~np.isin(obs_ids, hdus.obs_id)
    if np.any(lonely):
        ids = ", ".join(str(i) for i in obs_ids[lonely][:5]) + (" ..." if lonely.sum() > 5 else "")
        report.warnings.append(f"{index.path}: {int(lonely.sum())} of {len(obs_ids)} observations have no HDU "
                               f"(OBS_ID {ids})")  # fmt: skip
