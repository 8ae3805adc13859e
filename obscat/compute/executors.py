"""Where feature tasks run: in this process, in a local process pool, or on any
:class:`concurrent.futures.Executor` (a Dask client's among them, :mod:`.dask_executor`).

The work is split into chunks of observations that read the same IRF files (each file is then
read once per chunk); chunks are submitted at once and their rows come back as they finish.
A chunk whose worker crashed for good (:class:`WorkerCrashed`: the executor ran it again and its
worker died every time) is resubmitted file group by file group; a file group that crashes alone
is given NULL rows with the reason. The local pool (:mod:`.local_pool`) and Dask
(:mod:`.dask_executor`) both report crashes so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager

from ..errors import ObscatError, ParameterError
from .feature_eval import FeatureRow, evaluate
from .feature_names import FEATURES
from .feature_params import FeatureParams
from .feature_tasks import Task

__all__ = ["default_workers", "file_chunks", "open_executor", "run_chunks", "WorkerCrashed", "MIN_TASKS_PER_POOL"]

Progress = Callable[[str, int, int], None]
Crashed = Callable[[list[Task], str], None]
#: Below this many observations a process pool costs more (about 0.2 s to start) than it saves.
MIN_TASKS_PER_POOL = 48
#: The most observations in one chunk: a chunk is the unit of retry and of progress.
MAX_CHUNK = 200


class WorkerCrashed(ObscatError):
    """The worker running a task died every time it ran it (an executor's verdict, e.g. Dask's
    ``KilledWorker``): the message says how, as the reason of the NULL values."""


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


@contextmanager
def open_executor(executor: str | Executor | None, workers: int | None = None) -> Iterator[Executor | None]:
    """The executor ``executor`` names: ``None`` or ``"process"`` (None: the local pool of
    ``workers``), ``"dask"`` (a Dask ``LocalCluster`` of ``workers`` processes, closed at the end),
    ``"dask=ADDRESS"`` (the Dask scheduler at ``ADDRESS``, e.g. ``tcp://host:8786``), or an
    :class:`Executor`, as is. A Dask executor has a ``dashboard`` link."""
    if executor is None or isinstance(executor, Executor):
        yield executor
        return
    kind, _, address = str(executor).partition("=")
    if executor == "process":
        yield None
    elif kind == "dask" and (executor == "dask" or "://" in address):
        from .dask_executor import dask_executor

        with dask_executor(address or None, workers) as dask:
            yield dask
    else:
        raise ParameterError(f"`executor` must be \"process\", \"dask\", \"dask=ADDRESS\" (e.g. dask=tcp://host:8786) "
                             f"or a concurrent.futures.Executor, not {executor!r}")


def file_groups(tasks: Sequence[Task]) -> dict[tuple[str, ...], list[Task]]:
    """``tasks`` by the files they read."""
    groups: dict[tuple[str, ...], list[Task]] = {}
    for task in tasks:
        groups.setdefault(tuple(task.files), []).append(task)
    return groups


def file_chunks(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    """``tasks`` in chunks of at most ``size``, observations reading the same files together (and
    groups sharing a first file next to each other); a group larger than ``size`` is split."""
    groups = file_groups(tasks)
    chunks: list[list[Task]] = []
    current: list[Task] = []
    for key in sorted(groups):
        group = groups[key]
        for lo in range(0, len(group), size):
            part = group[lo:lo + size]
            if current and len(current) + len(part) > size:
                chunks.append(current)
                current = []
            current.extend(part)
    if current:
        chunks.append(current)
    return chunks


def chunk_size(n_tasks: int, workers: int) -> int:
    """About four chunks per worker (load balance), at most :data:`MAX_CHUNK` observations."""
    return max(1, min(MAX_CHUNK, math.ceil(n_tasks / (4 * workers))))


def run_chunks(tasks: Sequence[Task], params: FeatureParams, *, executor: Executor | None = None,
               workers: int | None = None, progress: Progress | None = None,
               crashed: Crashed | None = None) -> Iterator[tuple[list[Task], list[FeatureRow]]]:  # fmt: skip
    """Evaluate ``tasks``, yielding ``(chunk, its rows)`` as chunks finish: on ``executor`` if given
    (chunks sized for its own ``workers`` if it has them, as a Dask cluster's threads, else for
    ``workers``), else in ``workers`` local processes (in this process for one worker or a few
    tasks). ``crashed(tasks, reason)`` hears of each file group given NULL
    rows because its worker crashed (:class:`WorkerCrashed`)."""
    workers = getattr(executor, "workers", None) or workers or default_workers()
    if executor is None and (workers <= 1 or len(tasks) < MIN_TASKS_PER_POOL):
        chunks = file_chunks(tasks, MAX_CHUNK)
        done = 0
        for chunk in chunks:
            step = None if progress is None else (lambda what, n, _, done=done: progress(what, done + n, len(tasks)))
            yield chunk, evaluate(chunk, params, step)
            done += len(chunk)
        return
    chunks = file_chunks(tasks, chunk_size(len(tasks), workers))
    if executor is None:
        from .local_pool import LocalPool

        with LocalPool(workers) as pool:
            yield from _submitted(pool, chunks, params, len(tasks), progress, crashed)
        return
    yield from _submitted(executor, chunks, params, len(tasks), progress, crashed)


def _submitted(executor: Executor, chunks: list[list[Task]], params: FeatureParams, total: int,
               progress: Progress | None, crashed: Crashed | None) -> Iterator[tuple[list[Task], list[FeatureRow]]]:  # fmt: skip
    futures: dict[Future, list[Task]] = {executor.submit(evaluate, chunk, params): chunk for chunk in chunks}
    done = 0
    try:
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                chunk = futures.pop(future)
                try:
                    rows = future.result()
                except WorkerCrashed as exc:
                    groups = list(file_groups(chunk).values())
                    if len(groups) > 1:  # find the file group(s) that crash: resubmit each alone
                        futures.update({executor.submit(evaluate, group, params): group for group in groups})
                        continue
                    reason = f"{exc}: {', '.join(chunk[0].files)}"
                    rows = null_rows(chunk, params, reason)
                    if crashed is not None:
                        crashed(chunk, reason)
                yield chunk, rows
                done += len(chunk)
                if progress is not None:
                    progress("features", done, total)
    finally:
        for future in futures:
            future.cancel()


def null_rows(tasks: Sequence[Task], params: FeatureParams, reason: str) -> list[FeatureRow]:
    """Every feature of ``tasks`` NULL for ``reason``."""
    return [(t.observation_id, name, None, FEATURES[name][0], reason, None) for t in tasks for name in params.features]
