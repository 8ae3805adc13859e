"""Feature tasks on Dask distributed, behind a :class:`concurrent.futures.Executor`: a
``LocalCluster`` of worker processes, or an existing scheduler (``tcp://host:port``, e.g. a
dask-jobqueue cluster's). Dask is imported only here (``pip install 'obscat[dask]'``).

A task whose worker dies is rescheduled by Dask; once its workers have died more than
``distributed.scheduler.allowed-failures`` times (default 3) Dask gives up (``KilledWorker``),
which :class:`DaskExecutor` reports as :class:`~.executors.WorkerCrashed`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import ExitStack, contextmanager
from typing import Any

from ..errors import InputError, one_line
from .executors import WorkerCrashed

__all__ = ["DaskExecutor", "dask_executor", "INSTALL"]

INSTALL = "pip install 'obscat[dask]'"


class DaskExecutor(Executor):
    """Submits to a ``distributed.Client`` (``pure=False``: each submission runs, once); ``workers``
    is the cluster's number of threads now, ``dashboard`` its dashboard link. A result is released
    from the cluster as soon as it is here (a worker that dies later loses nothing to recompute)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    @property
    def dashboard(self) -> str | None:
        return self.client.dashboard_link

    def submit(self, fn, /, *args, **kwargs) -> Future:
        task = self.client.submit(fn, *args, pure=False, **kwargs)
        future: Future = Future()
        future.add_done_callback(lambda f: f.cancelled() and task.cancel())
        task.add_done_callback(functools.partial(_relay, future))
        return future


def _relay(future: Future, task: Any) -> None:
    """The Dask ``task``'s outcome to ``future``, ``KilledWorker`` as :class:`WorkerCrashed`."""
    from distributed.scheduler import KilledWorker

    try:
        if task.status == "cancelled":
            future.cancel()
            future.set_running_or_notify_cancel()
        elif future.set_running_or_notify_cancel():
            exc = task.exception() if task.status == "error" else None
            if isinstance(exc, KilledWorker):
                n = exc.allowed_failures + 1
                future.set_exception(WorkerCrashed(f"the worker computing it crashed {n} times (KilledWorker)"))
            elif exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(task.result())
    finally:
        task.release()


@contextmanager
def dask_executor(address: str | None = None, workers: int | None = None) -> Iterator[DaskExecutor]:
    """A :class:`DaskExecutor` on the scheduler at ``address``, or without one on a ``LocalCluster``
    of ``workers`` single-threaded processes (dashboard on a free port), closed at the end.

    Obscat's cluster sends a worker a task only when it has a free thread (worker-saturation 1.0),
    so a worker that dies takes with it only the task it was running.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(f"the Dask executor needs Dask distributed: {INSTALL}") from None
    from .executors import default_workers

    with ExitStack() as stack:
        if address is None:
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=logging.CRITICAL,
                ))  # fmt: skip
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(address))
            except (OSError, ValueError, TypeError) as exc:
                raise InputError(f"cannot reach the Dask scheduler at {address}: {one_line(exc)}") from None
        yield DaskExecutor(client)
