"""A fixed set of daemon threads for blocking store calls, used by the server extension and the
widgets: a call that hangs on an unreachable store never keeps the process from exiting, and a
caller waits for its future only as long as it chooses."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from nbops.exceptions import StoreUnavailableError

__all__ = ["StorePool"]

_STOP = None


class StorePool:
    """A fixed set of daemon threads running blocking store calls, first come first served."""

    def __init__(self, workers: int = 4, name: str = "nbops-api") -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue())
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Queue ``fn``; its result or exception arrives in the returned future."""
        if self._closed:
            raise StoreUnavailableError("The Jupyter server is shutting down: the nbops API "
                                        "takes no more requests. Reload JupyterLab after restart.")
        future: Future[Any] = Future()
        self._jobs.put((future, fn))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not _STOP:
            future, fn = job
            if not future.set_running_or_notify_cancel():
                continue  # its request already timed out
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to the waiting handler
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Take no more calls, drop queued ones, let idle threads end; never waits for a call."""
        self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not _STOP:
                job[0].cancel()
        for _ in self._threads:
            self._jobs.put(_STOP)
