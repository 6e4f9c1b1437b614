"""What the widgets share: the ES module and :class:`nbops.registry.service.RegistryService`
(the service the server extension answers with too).

Store calls run on a daemon thread and are waited for at most ``STORE_TIMEOUT`` seconds, as in
the server extension: with the tracking server down the widget shows the error instead of
holding the notebook's cell for as long as MLflow retries, and a call that never returns never
keeps the kernel from exiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import traitlets

from nbops.exceptions import NbopsError, StoreUnavailableError
from nbops.registry.service import RegistryService

__all__ = ["ESM", "STORE_TIMEOUT", "ServiceWidget", "failure_message"]

#: Seconds a widget waits for one store call (the server extension's default too).
STORE_TIMEOUT = 8.0
T = TypeVar("T")


def _bounded(fn: Callable[[], T], timeout: float) -> T:
    """``fn()`` on a daemon thread; StoreUnavailableError when it takes over ``timeout`` s."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # delivered to the waiting widget
            future.set_exception(exc)

    threading.Thread(target=run, name="nbops-widget-call", daemon=True).start()
    try:
        return future.result(timeout)
    except FutureTimeout:
        raise StoreUnavailableError(
            f"The MLflow tracking store did not answer within {timeout:g} s. Check that the "
            "tracking server is running and MLFLOW_TRACKING_URI / NBOPS_TRACKING_URI point at "
            "it, then call .refresh() on the widget.") from None


def failure_message(exc: BaseException) -> str | None:
    """What a widget shows for an nbops, MLflow or connection failure; None for a bug in nbops
    (it is raised, with its traceback)."""
    if isinstance(exc, NbopsError):
        return str(exc)
    if isinstance(exc, OSError) or any(c.__name__ == "MlflowException" for c in type(exc).__mro__):
        text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return text
        return (f"The MLflow tracking store cannot be reached: {text.strip().splitlines()[0]}. "
                "Check that the tracking server is running and MLFLOW_TRACKING_URI / "
                "NBOPS_TRACKING_URI point at it, then call .refresh() on the widget.")
    if type(exc).__module__.startswith(("requests", "urllib3", "sqlalchemy")):
        return (f"The MLflow tracking store cannot be reached: {exc}. Check that the tracking "
                "server is running and MLFLOW_TRACKING_URI / NBOPS_TRACKING_URI point at it.")
    return None


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
        except Exception as exc:  # a bug (no message for it) still raises
            message = failure_message(exc)
            if message is None:
                raise
            self.error = message
            return None
        finally:
            self.loading = False
        self.error = ""
        return result
