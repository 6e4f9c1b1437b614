"""nbops: notebook-native MLOps on MLflow.

    %load_ext nbops          # in a notebook: enables %%track
    import nbops
    with nbops.track("baseline", params={"lr": 0.1}):   # the same in a script
        nbops.log(loss=0.25, step=1)

Heavy libraries (mlflow, torch, pandas) are imported only when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbops._version import __version__
from nbops.exceptions import NbopsError

if TYPE_CHECKING:
    from nbops.tracking.run import Run

__all__ = [
    "NbopsError",
    "__version__",
    "active_run",
    "compare",
    "dataset",
    "datasets",
    "flush",
    "gate",
    "lineage",
    "load_ipython_extension",
    "log",
    "log_artifact",
    "log_metrics",
    "log_model",
    "monitor",
    "output",
    "package",
    "registry",
    "log_params",
    "serve",
    "set_tags",
    "track",
    "unload_ipython_extension",
]


def track(name: str | None = None, **kwargs: Any):  # noqa: ANN201 - a context manager of Run
    """Track a block as one MLflow run: ``with nbops.track("name", params={...}) as run:``.

    See :func:`nbops.tracking.run.track` for the arguments.
    """
    from nbops.tracking.run import track as _track

    return _track(name, **kwargs)


_runs: Any = None  # nbops.tracking.run, imported on the first logging call (kept for speed)


def active_run() -> Run:
    """The innermost active run; raises NoActiveRunError outside a run."""
    global _runs
    if _runs is None:
        import nbops.tracking.run as _runs
    return _runs.active_run()


def log(step: int | None = None, **values: Any) -> None:
    """Log metrics to the active run, e.g. ``nbops.log(loss=0.3, step=epoch)``; returns at once."""
    (_runs.active_run() if _runs is not None else active_run()).log_metrics(values, step)


def log_metrics(values: Mapping[str, Any], step: int | None = None) -> None:
    """Log a dict of metrics to the active run; returns at once."""
    active_run().log_metrics(values, step)


def log_params(params: Mapping[str, Any]) -> None:
    """Log params to the active run."""
    active_run().log_params(params)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags on the active run."""
    active_run().set_tags(tags)


def log_artifact(obj: Any, name: str | None = None) -> str:
    """Log a file, folder, figure, dict, DataFrame, array or text to the active run."""
    return active_run().log_artifact(obj, name)


def compare(experiment_or_runs: Any, metric: str | None = None) -> Any:
    """A DataFrame of runs' params and final metrics; with ``metric``, also a plot inline."""
    from nbops.runs.compare import compare as _compare

    return _compare(experiment_or_runs, metric)


def dataset(obj: Any, name: str | None = None, source: str | None = None,
            context: str = "training") -> Any:
    """Fingerprint a DataFrame, array, tensor, file or folder and record it on the active run."""
    from nbops.data.tracked import dataset as _dataset

    return _dataset(obj, name, source, context)


def datasets(name: str) -> list[Any]:
    """Every recorded version of the dataset ``name``, oldest first."""
    from nbops.data.tracked import datasets as _datasets

    return _datasets(name)


def flush(timeout: float = 30.0) -> int:
    """Wait until everything logged in this process is in MLflow; return events still spooled."""
    from nbops.tracking.run import default_tracker

    return default_tracker().logger.flush(timeout)


def log_model(model: Any, name: str, *, register: bool = True, input_example: Any = None,
              alias: str | None = None, reason: str | None = None, **options: Any) -> Any:
    """Log a torch model from the active run and register a version (``models:/name/N``).

    The version is linked to the training data recorded with :func:`dataset` (in this run, or
    in an earlier cell of this kernel), whose profile becomes its monitoring reference.
    ``options``: ``pip_requirements``, ``serialization_format``, ``run_wait_timeout`` (see
    :func:`nbops.workflows.log_model.log_model`).
    """
    from nbops.workflows.log_model import log_model as _log_model

    return _log_model(model, name, register=register, input_example=input_example, alias=alias,
                      reason=reason, **options)


def gate(model: str, challenger: str = "challenger", champion: str = "champion", **kwargs: Any
         ) -> Any:
    """Compare ``model@challenger`` with ``model@champion`` on a labelled window against
    declared criteria; promote (audited alias move) or reject. See
    :func:`nbops.workflows.gate.gate` for every option."""
    from nbops.workflows.gate import gate as _gate

    return _gate(model, challenger, champion, **kwargs)


def lineage(ref: str, direction: str = "both", depth: int | None = None) -> Any:
    """The lineage graph of a model (``name@alias``, ``name/3``), run id or dataset version;
    it draws itself inline in a notebook and renders as text, JSON, Mermaid, DOT or SVG."""
    from nbops.registry.lineage import lineage as _lineage

    return _lineage(ref, direction=direction, depth=depth)


def output(name: str, value: Any) -> None:
    """Record a pipeline step output (``{{ steps.<step>.outputs.<name> }}`` downstream).

    Outside a pipeline step it only tags the active run, if any.
    """
    from nbops.pipeline.outputs import output as _output

    _output(name, value)


def __getattr__(name: str) -> Any:
    """``nbops.package``, ``nbops.monitor``, ``nbops.registry`` and ``nbops.serve``: imported
    on first use."""
    import importlib

    modules = {"package": "nbops.workflows.package", "monitor": "nbops.workflows.monitor",
               "registry": "nbops.registry", "serve": "nbops.serving"}
    if name in modules:
        return importlib.import_module(modules[name])
    raise AttributeError(f"module 'nbops' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """JupyterLab entry point (the "Models" sidebar), declared by the package as Jupyter expects."""
    from nbops.server import _jupyter_labextension_paths as paths

    return paths()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter server entry point: the REST API under /nbops/api/."""
    from nbops.server import _jupyter_server_extension_points as points

    return points()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbops``."""
    from nbops.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from nbops.magics import unload_ipython_extension as _unload

    _unload(ipython)
