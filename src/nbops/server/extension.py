"""Loading the server extension: one service per server, one small thread pool for MLflow."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nbops.server.handlers import routes
from nbops.server.service import RegistryService

__all__ = ["ServerState", "load"]


class ServerState:
    """The server's RegistryService, created on first use (settings errors become 503s)."""

    def __init__(self, root_dir: Path, max_workers: int = 4) -> None:
        self.root_dir = root_dir
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="nbops-api")
        self._service: RegistryService | None = None
        self._lock = threading.Lock()

    def service(self) -> RegistryService:
        with self._lock:
            if self._service is None:
                from nbops.config import load_settings

                self._service = RegistryService(load_settings(self.root_dir).tracking_uri)
            return self._service


def load(serverapp: Any) -> None:
    """Register the ``/nbops/api/`` handlers on ``serverapp``."""
    web_app = serverapp.web_app
    state = ServerState(Path(serverapp.root_dir))
    web_app.settings["nbops_state"] = state
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
    serverapp.log.info("nbops: registry API at %snbops/api/", web_app.settings["base_url"])
