"""The server extension app: one registry service per server, store calls on daemon threads with a
bounded wait, stopped with the server.

A store call that hangs (a tracking server that accepts connections and never answers, MLflow's
own retries against a refused port) must neither keep the sidebar blank nor keep the Jupyter server
from exiting. So each call runs on a daemon thread of :class:`StorePool`, the handler waits at most
``NbopsServer.store_timeout`` seconds and then answers 503; the thread may finish later, and it
never blocks the interpreter's exit.

Configure it like any Jupyter server extension::

    jupyter lab --NbopsServer.store_timeout=5
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int

from nbops.exceptions import StoreUnavailableError
from nbops.server.handlers import routes
from nbops.server.service import RegistryService

__all__ = ["NbopsServer", "ServerState", "StorePool"]

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


class ServerState:
    """The server's RegistryService, created on first use (settings errors become 503s)."""

    def __init__(self, root_dir: Path, store_timeout: float = 8.0, workers: int = 4) -> None:
        self.root_dir = root_dir
        self.store_timeout = store_timeout
        self.pool = StorePool(workers)
        self._service: RegistryService | None = None
        self._lock = threading.Lock()

    def service(self) -> RegistryService:
        with self._lock:
            if self._service is None:
                from nbops.config import load_settings

                self._service = RegistryService(load_settings(self.root_dir).tracking_uri)
            return self._service


class NbopsServer(ExtensionApp):
    """nbops' REST API under ``/nbops/api/`` (the Models sidebar and the widgets' server side)."""

    name = "nbops"
    load_other_extensions = True

    store_timeout = Float(
        8.0, config=True,
        help="Seconds a request waits for the MLflow store before answering 503 (store down).")
    workers = Int(4, config=True, help="Threads running MLflow calls for the API.")

    def initialize_settings(self) -> None:
        if self.store_timeout <= 0:
            raise ValueError(f"NbopsServer.store_timeout must be a positive number of seconds, "
                             f"got {self.store_timeout}.")
        self.state = ServerState(Path(self.serverapp.root_dir), self.store_timeout,
                                 max(1, self.workers))
        self.settings["nbops_state"] = self.state
        # import MLflow and read the settings now, off the event loop, so that the first
        # request's bounded wait is spent on the store, not on `import mlflow`
        self.state.pool.submit(self.state.service)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes(""))
        self.log.info("nbops: registry API at %snbops/api/", self.serverapp.base_url)

    async def stop_extension(self) -> None:
        self.state.pool.shutdown()
