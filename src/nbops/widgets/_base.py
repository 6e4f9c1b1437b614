"""What the widgets share: the ES module and the RegistryService of the server extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import traitlets

from nbops.server.errors import error_body
from nbops.server.service import RegistryService

__all__ = ["ESM", "ServiceWidget"]

ESM = Path(__file__).parent / "static" / "widgets.js"
CSS = Path(__file__).parent / "static" / "widgets.css"
T = TypeVar("T")


class ServiceWidget(anywidget.AnyWidget):
    """An anywidget reading through :class:`RegistryService`; failures land in ``error``."""

    _esm = ESM
    _css = CSS
    _view = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    loading = traitlets.Bool(False).tag(sync=True)

    def __init__(self, service: RegistryService | None = None, **kwargs: Any) -> None:
        self._service = service
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
            result = fn(self.service)
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
