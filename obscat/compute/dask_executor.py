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
import weakref
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
    is the cluster's number of threads now, ``dashboard`` its dashboard link. A result leaves the
    cluster as soon as it is here (a worker that dies later has nothing of it to recompute).

    Results are fetched with ``Future.result`` in Dask's callback thread, not through
    ``Client.get_executor``, whose futures failed with an ``AttributeError`` when the worker holding
    a finished result died before the client had it (Dask reschedules the task; ``result`` waits
    for it)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    @property
    def dashboard(self) -> str | None:
        return self.client.dashboard_link

    def submit(self, fn, /, *args, **kwargs) -> Future:
        inner = self.client.submit(fn, *args, pure=False, **kwargs)  # Dask holds it until it is done
        outer: Future = Future()
        task = weakref.ref(inner)  # no cycle: once done and relayed, it and its Dask future go at once
        outer.add_done_callback(lambda f: f.cancelled() and (t := task()) is not None and t.cancel())
        inner.add_done_callback(functools.partial(_relay, outer))
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass  # the client and its cluster are closed by whoever opened them (dask_executor)


def _relay(outer: Future, inner: Any) -> None:
    """The outcome of the finished Dask future ``inner`` to ``outer``, Dask's ``KilledWorker`` as
    :class:`WorkerCrashed` (run in Dask's callback thread)."""
    from distributed.scheduler import KilledWorker

    if not outer.set_running_or_notify_cancel():
        return  # cancelled
    try:
        result = inner.result()
    except KilledWorker as exc:
        outer.set_exception(WorkerCrashed(f"the worker computing it crashed {exc.allowed_failures + 1} times (KilledWorker)"))
    except Exception as exc:  # a cancelled Dask future's FutureCancelledError among them
        outer.set_exception(exc)
    else:
        outer.set_result(result)
    finally:
        inner.release()


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
