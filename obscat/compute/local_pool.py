"""The local process pool, behind a :class:`concurrent.futures.Executor`, that outlives its workers.

A worker that dies (a crash in a C library, an out-of-memory kill) fails only the task it was
running (``pebble``'s ``ProcessExpired``; the standard library's pool breaks as a whole), and
the task is run again, up to :data:`ALLOWED_FAILURES` more times, as Dask does; after that its
future fails with :class:`~.executors.WorkerCrashed`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import CancelledError, Executor, Future

from pebble import ProcessExpired, ProcessPool

from .executors import WorkerCrashed

__all__ = ["LocalPool", "ALLOWED_FAILURES"]

#: Reruns of a task whose worker died, as Dask's ``distributed.scheduler.allowed-failures``.
ALLOWED_FAILURES = 3


def exit_with_parent(parent: int) -> None:
    """A pool worker's initializer: exit once the process that started the pool has died (a client
    killed with SIGKILL would otherwise leave its workers waiting for work forever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="obscat-exit-with-parent").start()


class LocalPool(Executor):
    """``workers`` local processes; tasks rerun when their worker dies (see the module)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPool(max_workers=workers, initializer=exit_with_parent, initargs=(os.getpid(),))

    def submit(self, fn, /, *args, **kwargs) -> Future:
        outer: Future = Future()
        self._run(outer, 0, fn, args, kwargs)
        return outer

    def _run(self, outer: Future, failures: int, fn, args, kwargs) -> None:
        inner = self._pool.schedule(fn, args=args, kwargs=kwargs)
        outer.add_done_callback(lambda f: f.cancelled() and inner.cancel())

        def relay(done: Future) -> None:
            exc = None if done.cancelled() else done.exception()
            if isinstance(exc, ProcessExpired) and failures < ALLOWED_FAILURES and not outer.cancelled():
                self._run(outer, failures + 1, fn, args, kwargs)
                return
            if not outer.set_running_or_notify_cancel():
                return  # cancelled
            if done.cancelled():
                outer.set_exception(CancelledError())
            elif isinstance(exc, ProcessExpired):
                outer.set_exception(_crashed(failures + 1, exc.exitcode))
            elif exc is not None:
                outer.set_exception(exc)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(relay)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures or not wait:
            self._pool.stop()
        else:
            self._pool.close()
        self._pool.join()


def _crashed(times: int, exitcode: int | None) -> WorkerCrashed:
    how = f"exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        try:
            how = signal.Signals(-exitcode).name
        except ValueError:
            pass
    return WorkerCrashed(f"the worker process computing it died {times} times ({how})")
