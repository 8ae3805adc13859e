"""IRF features per observation, computed once and stored as a feature set.

The flow: select observations and their IRF HDUs from the catalogue (:mod:`.feature_tasks`),
evaluate them in chunks that share files, on an executor (:mod:`.executors`,
:mod:`.feature_eval`), and store the rows (:mod:`.feature_store`): batch by batch as chunks
finish, or all in one transaction when the run must be all or nothing (``strict``, ``then``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from typing import Generic, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import InputError
from ..query.criteria import Criterion
from ..store.engine import write_transaction
from ..store.file_versions import read_versions
from ..store.models import FeatureSet
from ..text import plural
from .executors import run_chunks
from .feature_eval import FeatureRow
from .feature_names import DEFAULT_FEATURES, FEATURES
from .feature_params import FeatureParams, feature_params
from .feature_store import write_values
from .feature_tasks import Task, pending_tasks

__all__ = ["FEATURES", "DEFAULT_FEATURES", "FeatureParams", "feature_params", "compute_features", "Computed"]

Progress = Callable[[str, int, int], None]
T = TypeVar("T")
#: A batch is written once it holds this many observations, or is this old (seconds).
WRITE_BATCH, WRITE_EVERY_S = 5_000, 5.0


class Computed(NamedTuple, Generic[T]):
    """What :func:`compute_features` did."""

    name: str  #: the feature set's name
    n_computed: int  #: observations computed
    n_kept: int  #: observations whose stale values were kept (a file they came from has gone)
    result: T | None  #: what ``then`` returned
    crashed: list[str]  #: one line per file group stored as NULL because its worker crashed


def compute_features(
    engine: Engine,
    params: FeatureParams,
    *,
    store: str | None = None,
    obs_ids: Sequence[int] | None = None,
    selection: Criterion | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    strict: bool = False,
    missing_only: bool = False,
    then: Callable[[Connection, str], T] | None = None,
    progress: Progress | None = None,
) -> Computed[T]:
    """Compute and store a feature set for the selected observations.  A
    feature that cannot be computed for an observation (no such HDU, offset
    outside the IRF, a damaged HDU ...) is stored as NULL with the reason; with
    ``strict`` it is an error and nothing is written.  ``missing_only`` leaves
    observations the set already holds as they are, unless their values are
    stale (a file they were computed from has changed since); values computed from a
    file that has gone since are kept (counted as kept: recomputing would make them
    NULL).  The version (size, mtime) of every file read is stored with the values.

    The work runs on ``executor`` (any :class:`concurrent.futures.Executor`) if given, else in
    ``workers`` local processes. Observations whose worker crashed for good (a Dask
    ``KilledWorker``, :class:`.executors.WorkerCrashed`) are stored as NULL with the reason, and
    named in ``crashed``. Values are written in batches as they arrive, each batch
    replacing what the set held for its observations: a run that is killed keeps the batches
    written, and a rerun with ``missing_only`` computes the rest. With ``strict`` or ``then``
    everything is written in one transaction at the end; ``then(conn, set name)`` runs in it,
    after the values: if it fails, nothing is written.
    """
    tasks, kept = pending_tasks(engine, params, store, obs_ids, selection, missing_only)
    versions = read_versions({t.observation_id: t.files for t in tasks})  # before the files are read
    crashed: list[str] = []

    def crash(group: list[Task], reason: str) -> None:
        ids = ", ".join(str(t.obs_id) for t in group)
        crashed.append(f"OBS_ID {ids} ({plural(len(group), 'observation')}) stored as NULL: {reason}")

    results = _evaluate_all(tasks, params, executor, workers, progress, crash) if tasks else iter(())
    if strict or then is not None:
        rows = [row for _, part in results for row in part]
        if strict:
            _check_strict(tasks, rows)
        with write_transaction(engine) as conn:
            name = write_values(conn, params, tasks, rows, versions)[1] if tasks else _set_name(conn, params)
            result = then(conn, name) if then is not None else None
        return Computed(name, len(tasks), len(kept), result, crashed)
    written = _write_batches(engine, params, results, versions) if tasks else None
    if written is None:
        with write_transaction(engine) as conn:
            written = _set_name(conn, params)
    return Computed(written, len(tasks), len(kept), None, crashed)


def _evaluate_all(tasks: list[Task], params: FeatureParams, executor: Executor | None, workers: int | None,
                  progress: Progress | None, crashed: Callable[[list[Task], str], None],
                  ) -> Iterator[tuple[list[Task], list[FeatureRow]]]:  # fmt: skip
    """Each chunk of ``tasks`` with its rows, as chunks finish (a seam for tests)."""
    return run_chunks(tasks, params, executor=executor, workers=workers, progress=progress, crashed=crashed)


def _write_batches(engine: Engine, params: FeatureParams, results: Iterable[tuple[list[Task], list[FeatureRow]]],
                   versions: dict[str, tuple]) -> str | None:  # fmt: skip
    """Write the chunks' rows in batches of :data:`WRITE_BATCH` observations (or every
    :data:`WRITE_EVERY_S` seconds), each its own transaction; the set's name."""
    name = None
    tasks: list[Task] = []
    rows: list[FeatureRow] = []
    since = time.monotonic()
    for chunk, part in results:
        tasks.extend(chunk)
        rows.extend(part)
        if len(tasks) >= WRITE_BATCH or time.monotonic() - since >= WRITE_EVERY_S:
            name = _write_batch(engine, params, tasks, rows, versions)
            tasks, rows, since = [], [], time.monotonic()
    return _write_batch(engine, params, tasks, rows, versions) if tasks else name


def _write_batch(engine: Engine, params: FeatureParams, tasks: list[Task], rows: list[FeatureRow],
                 versions: dict[str, tuple]) -> str:  # fmt: skip
    with write_transaction(engine) as conn:
        return write_values(conn, params, tasks, rows, versions)[1]


def _check_strict(tasks: list[Task], rows: list[FeatureRow]) -> None:
    bad = next((r for r in rows if r[4] is not None), None)
    if bad is not None:
        obs = next(t.obs_id for t in tasks if t.observation_id == bad[0])
        raise InputError(f"OBS_ID {obs}: {bad[1]}: {bad[4]}")


def _set_name(conn: Connection, params: FeatureParams) -> str:
    """The name of the stored set of ``params`` (every observation already computed)."""
    table = FeatureSet.__table__
    return conn.execute(sa.select(table.c.name).where(table.c.params_sha256 == params.sha256)).scalar_one()
