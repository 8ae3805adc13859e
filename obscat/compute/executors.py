"""Where feature tasks run: in this process, in a local process pool, or on any
:class:`concurrent.futures.Executor` (a Dask client's among them).

The work is split into chunks of observations that read the same IRF files (each file is then
read once per chunk); chunks are submitted at once and their rows come back as they finish.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed

from .feature_eval import FeatureRow, evaluate
from .feature_params import FeatureParams
from .feature_store import task_files
from .feature_tasks import Task

__all__ = ["default_workers", "file_chunks", "run_chunks", "MIN_TASKS_PER_POOL"]

Progress = Callable[[str, int, int], None]
#: Below this many observations a process pool costs more (about 0.2 s to start) than it saves.
MIN_TASKS_PER_POOL = 48
#: The most observations in one chunk: a chunk is the unit of retry and of progress.
MAX_CHUNK = 200


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def file_chunks(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    """``tasks`` in chunks of at most ``size``, observations reading the same files together (and
    groups sharing a first file next to each other); a group larger than ``size`` is split."""
    groups: dict[tuple[str, ...], list[Task]] = {}
    for task in tasks:
        groups.setdefault(tuple(task_files(task)), []).append(task)
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
               workers: int | None = None, progress: Progress | None = None) -> Iterator[tuple[list[Task], list[FeatureRow]]]:  # fmt: skip
    """Evaluate ``tasks``, yielding ``(chunk, its rows)`` as chunks finish: on ``executor`` if given,
    else in ``workers`` local processes (in this process for one worker or a few tasks)."""
    workers = workers or default_workers()
    if executor is None and (workers <= 1 or len(tasks) < MIN_TASKS_PER_POOL):
        chunks = file_chunks(tasks, MAX_CHUNK)
        done = 0
        for chunk in chunks:
            step = None if progress is None else (lambda what, n, _, done=done: progress(what, done + n, len(tasks)))
            yield chunk, evaluate(chunk, params, step)
            done += len(chunk)
        return
    if executor is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield from _submitted(pool, file_chunks(tasks, chunk_size(len(tasks), workers)), params, len(tasks), progress)
        return
    yield from _submitted(executor, file_chunks(tasks, chunk_size(len(tasks), workers)), params, len(tasks), progress)


def _submitted(executor: Executor, chunks: list[list[Task]], params: FeatureParams, total: int,
               progress: Progress | None) -> Iterator[tuple[list[Task], list[FeatureRow]]]:  # fmt: skip
    futures = {executor.submit(evaluate, chunk, params): chunk for chunk in chunks}
    done = 0
    try:
        for future in as_completed(futures):
            chunk = futures[future]
            yield chunk, future.result()
            done += len(chunk)
            if progress is not None:
                progress("features", done, total)
    finally:
        for future in futures:
            future.cancel()
