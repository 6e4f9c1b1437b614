"""The server extension app: one registry service per server, store calls on daemon threads with a
bounded wait, stopped with the server.

A store call that hangs (a tracking server that accepts connections and never answers, MLflow's
own retries against a refused port) must neither keep the sidebar blank nor keep the Jupyter server
from exiting. So each call runs on a daemon thread of :class:`~nbops.server.pool.StorePool`, the
handler waits at most ``NbopsServer.store_timeout`` seconds and then answers 503; the thread may
finish later, and it never blocks the interpreter's exit. ``stop_extension`` (the server's
shutdown) closes the pool: queued calls are cancelled, running ones are not waited for. At exit
the garbage collector is frozen (``gc.freeze``): with MLflow imported, CPython's last full
collections of the heap took 0.7-1.6 s between SIGTERM and exit on a busy 2-core machine
(about 0.2 s frozen); the process is ending, so those objects need no collecting.

Configure it like any Jupyter server extension::

    jupyter lab --NbopsServer.store_timeout=5
    jupyter lab --NbopsServer.service_class=mypkg.registry.AuditedService
"""

from __future__ import annotations

import atexit
import gc
import threading
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Type

from nbops.registry.service import RegistryService
from nbops.server.handlers import routes
from nbops.server.pool import StorePool

__all__ = ["NbopsServer", "ServerState"]


class ServerState:
    """The server's registry service, created on first use (settings errors become 503s)."""

    def __init__(self, root_dir: Path, store_timeout: float = 8.0, workers: int = 4,
                 service_class: type[RegistryService] = RegistryService) -> None:
        self.root_dir = root_dir
        self.store_timeout = store_timeout
        self.service_class = service_class
        self.pool = StorePool(workers)
        self._service: RegistryService | None = None
        self._lock = threading.Lock()

    def service(self) -> RegistryService:
        with self._lock:
            if self._service is None:
                from nbops.config import load_settings

                self._service = self.service_class(load_settings(self.root_dir).tracking_uri)
            return self._service


class NbopsServer(ExtensionApp):
    """nbops' REST API under ``/nbops/api/`` (the Models sidebar and the widgets' server side)."""

    name = "nbops"
    load_other_extensions = True

    store_timeout = Float(
        8.0, config=True,
        help="Seconds a request waits for the MLflow store before answering 503 (store down).")
    workers = Int(4, config=True, help="Threads running MLflow calls for the API.")
    service_class = Type(
        default_value=RegistryService, klass=RegistryService, config=True,
        help="The class answering the API: nbops.registry.service.RegistryService or a subclass "
             "of it (import path), built with the tracking URI of the nbops settings.")

    def initialize_settings(self) -> None:
        if self.store_timeout <= 0:
            raise ValueError(f"NbopsServer.store_timeout must be a positive number of seconds, "
                             f"got {self.store_timeout}.")
        self.state = ServerState(Path(self.serverapp.root_dir), self.store_timeout,
                                 max(1, self.workers), self.service_class)
        self.settings["nbops_state"] = self.state
        # import MLflow and read the settings now, off the event loop, so that the first
        # request's bounded wait is spent on the store, not on `import mlflow`
        self.state.pool.submit(self.state.service)
        atexit.register(gc.freeze)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes(""))
        self.log.info("nbops: registry API at %snbops/api/ (service %s.%s)",
                      self.serverapp.base_url, self.service_class.__module__,
                      self.service_class.__qualname__)

    async def stop_extension(self) -> None:
        self.state.pool.shutdown()
