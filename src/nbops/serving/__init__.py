"""Serving: a model alias behind an HTTP endpoint, every request logged for monitoring.

    nbops.serve("churn@prod")            a server in a child process; a handle (.url, .stop())
    nbops.serve.label(request_id, y)     the true outcome of a request, joined later by id
    nbops.serve.read_log("churn", "1h")  the requests of a time window, as a DataFrame

Modules: ``spec`` (request formats and checks), ``models`` (what is loaded: ONNX package or
pyfunc), ``routing`` (canary, shadow, blue-green, routing files), ``shadow`` (the shadow's own
process), ``reqlog`` (the request log), ``app`` (the HTTP API), ``server`` (processes),
``kserve`` (the InferenceService export); the command is in :mod:`nbops.cli.serving`.
Importing this package imports neither mlflow, numpy nor starlette. ``nbops.serve(...)``
(calling the package) starts a server.

    >>> server = nbops.serve("churn@prod").wait()                          # doctest: +SKIP
    >>> r = requests.post(server.url + "/nbops/v1/predict", json={"inputs": [[0.1] * 8]})
    ... # doctest: +SKIP
    >>> nbops.serve.label(r.json()["request_id"], 1, model="churn")        # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.serving.server import ServerHandle

__all__ = ["ServerHandle", "export_kserve", "label", "read_log", "serve"]


def serve(ref: str | None = None, *, host: str | None = None, port: int = 0,
          workers: int | None = None, canary: str | None = None, shadow: str | None = None,
          poll: float | None = None, config: str | Path | None = None) -> ServerHandle:
    """Serve ``ref`` (``NAME@ALIAS``) in a child process; see :func:`nbops.serving.server.serve`."""
    from nbops.serving.server import serve as _serve

    return _serve(ref, host=host, port=port, workers=workers, canary=canary, shadow=shadow,
                  poll=poll, config=config)


def label(request_id: str, y: Any, *, model: str, home: Path | None = None) -> bool:
    """Record the true outcome ``y`` of request ``request_id`` of model ``model``; return
    whether its request log holds that request (an unknown id is recorded all the same)."""
    from nbops.serving.reqlog import label as _label

    return _label(request_id, y, model=model, home=home)


def read_log(model: str, since: Any = None, until: Any = None, *,
             routes: tuple[str, ...] = ("primary", "canary"), home: Path | None = None) -> Any:
    """The requests ``model`` answered in a time window; see :func:`nbops.serving.reqlog.read_log`."""
    from nbops.serving.reqlog import read_log as _read_log

    return _read_log(model, since, until, routes=routes, home=home)


def export_kserve(ref: str, *, canary: str | None = None, storage_uri: str | None = None) -> str:
    """A KServe v1beta1 InferenceService (YAML) serving ``ref``'s ONNX package."""
    from nbops.serving.kserve import export_manifest
    from nbops.serving.routing import RouteConfig, parse_canary

    canary_ref, percent = parse_canary(canary) if canary else (None, 0.0)
    return export_manifest(RouteConfig(ref, canary_ref, percent), kind="kserve",
                           storage_uri=storage_uri)


def __getattr__(name: str) -> Any:
    if name == "ServerHandle":
        from nbops.serving.server import ServerHandle

        return ServerHandle
    raise AttributeError(f"module 'nbops.serving' has no attribute {name!r}")


class _ServingModule(types.ModuleType):
    """``nbops.serve`` is this package, and calling it starts a server."""

    def __call__(self, ref: str | None = None, **kwargs: Any) -> ServerHandle:
        return serve(ref, **kwargs)


sys.modules[__name__].__class__ = _ServingModule
