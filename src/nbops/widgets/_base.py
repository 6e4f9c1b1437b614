"""What the widgets share: the ES module and the RegistryService of the server extension.

Store calls run on a daemon thread and are waited for at most ``STORE_TIMEOUT`` seconds, as in
the server extension: with the tracking server down the widget shows the error instead of
holding the notebook's cell for as long as MLflow retries.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import traitlets

from nbops.exceptions import StoreUnavailableError
from nbops.server.errors import error_body
from nbops.server.service import RegistryService

__all__ = ["ESM", "STORE_TIMEOUT", "ServiceWidget"]

#: Seconds a widget waits for one store call (the server extension's default too).
STORE_TIMEOUT = 8.0
T = TypeVar("T")
_pool: Any = None  # the widgets' StorePool, started on first use


def _bounded(fn: Callable[[], T], timeout: float) -> T:
    """``fn()`` on a daemon thread; StoreUnavailableError when it takes over ``timeout`` s."""
    global _pool
    if _pool is None:
        from nbops.server.pool import StorePool

        _pool = StorePool(2, name="nbops-widgets")
    future = _pool.submit(fn)
    try:
        return future.result(timeout)
    except FutureTimeout:
        future.cancel()
        raise StoreUnavailableError(
            f"The MLflow tracking store did not answer within {timeout:g} s. Check that the "
            "tracking server is running and MLFLOW_TRACKING_URI / NBOPS_TRACKING_URI point at "
            "it, then call .refresh() on the widget.") from None


ESM = Path(__file__).parent / "static" / "widgets.js"
CSS = Path(__file__).parent / "static" / "widgets.css"


class ServiceWidget(anywidget.AnyWidget):
    """An anywidget reading through :class:`RegistryService`; failures land in ``error``."""

    _esm = ESM
    _css = CSS
    _view = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    loading = traitlets.Bool(False).tag(sync=True)

    def __init__(self, service: RegistryService | None = None,
                 store_timeout: float = STORE_TIMEOUT, **kwargs: Any) -> None:
        self._service = service
        self._timeout = store_timeout
        self._ready = False  # observers stay quiet until the first explicit load
        super().__init__(**kwargs)
        self._ready = True

    @property
    def service(self) -> RegistryService:
        if self._service is None:
            self._service = RegistryService()
        return self._service

    def _call(self, fn: Callable[[RegistryService], T]) -> T | None:
        """``fn(service)``; an nbops/MLflow/store failure is shown in the widget, not raised."""
        self.loading = True
        try:
            service = self.service  # imports MLflow: not part of the store's bound
            result = _bounded(lambda: fn(service), self._timeout)
        except Exception as exc:  # mapped like the REST API; a bug (unmapped) still raises
            body = error_body(exc)
            if body is None:
                raise
            self.error = body.message
            return None
        finally:
            self.loading = False
        self.error = ""
        return result
