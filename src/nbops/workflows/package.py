"""``nbops.package.onnx``: package a model and record it — a ``package`` run, the ONNX model
logged with MLflow's onnx flavour and registered, with lineage back to its source. A workflow:
it spans packaging, tracking and the registry.

    source (torch module, models:/name@alias, name/3, or a run id)
      ─► package run (tags nbops.source_run, nbops.source_model; child of the active run)
      ─► package_onnx: export ─► check ─► parity ─► quantize? ─► gate ─► benchmark
      ─► metrics + report ─► mlflow.onnx model ─► registered as ``<name>-onnx``

Naming: the package of ``churn`` is the registered model ``churn-onnx``; each version carries
``nbops.source_model=churn/3`` and ``nbops.source_run=<training run>``, which the lineage graph
follows to draw the package between the model version and what is served or monitored later.

``nbops.package`` is the packaging library (:mod:`nbops.packaging`) plus this workflow.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbops.exceptions import NotFoundError, UsageError
from nbops.packaging import *  # noqa: F403 - nbops.package is the library plus the workflow
from nbops.packaging import __all__ as _library
from nbops.store import Store, open_store
from nbops.store import tags as T
from nbops.store.models import infer_signature, load_model, log_model_files, model_signature

__all__ = [*_library, "PackagedModel", "example_from_signature", "load_source", "onnx"]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class PackagedModel:
    """What :func:`onnx` produced: the registered package and the packaging result."""

    name: str
    version: str | None
    uri: str
    run_id: str
    source_model: str | None
    source_run: str | None
    result: Any  # PackageResult

    def __str__(self) -> str:
        return self.uri


def load_source(model_or_uri: Any, store: Store) -> tuple[Any, str | None, str | None, str]:
    """(torch module, source model 'name/3' or None, source run id or None, default name)."""
    import torch

    if isinstance(model_or_uri, torch.nn.Module):
        from nbops.tracking.run import Tracker

        active = Tracker.active()
        return model_or_uri, None, active.mlflow_run_id if active else None, \
            type(model_or_uri).__name__.lower()
    if not isinstance(model_or_uri, str):
        raise UsageError(f"nbops.package.onnx packages a torch.nn.Module, a registered model "
                         f"(models:/name@alias, name/3) or a run id; got a "
                         f"{type(model_or_uri).__name__}.")
    if _RUN_ID.match(model_or_uri):
        run = store.run(model_or_uri)
        models = store.logged_models([run.info.experiment_id],
                                     filter_string=f"source_run_id = '{model_or_uri}'")
        if not models:
            raise NotFoundError(f"Run {model_or_uri} logged no model. Log one with "
                                "nbops.log_model(model, name) in that run.")
        logged = models[0]
        model = load_model(store, f"models:/{logged.model_id}", flavor="pytorch")
        return model, None, model_or_uri, logged.name
    from nbops.registry.resolve import resolve_version

    mv = resolve_version(model_or_uri, store=store)
    model = load_model(store, f"models:/{mv.name}/{mv.version}", flavor="pytorch")
    return model, f"{mv.name}/{mv.version}", mv.run_id, mv.name


def example_from_signature(model_ref: str, shape: tuple[int, ...] | None = None) -> Any:
    """A zero tensor shaped like the model's input: ``shape`` if given, else the input shape of
    the registered version's MLflow signature with batch size 1."""
    import torch

    from nbops.registry.resolve import resolve_version

    if shape is not None:
        return torch.zeros(shape)
    store = open_store()
    mv = resolve_version(model_ref, store=store)
    signature = model_signature(store, f"models:/{mv.name}/{mv.version}")
    specs = getattr(getattr(signature, "inputs", None), "inputs", None) or []
    if len(specs) != 1 or not getattr(specs[0], "shape", None):
        raise UsageError(
            f"Model {mv.name}/{mv.version} has no single-tensor input signature to build an "
            "example input from. Pass --example-shape (e.g. 1,16), or use nbops.package.onnx "
            "from Python with a real example input.")
    dims = tuple(1 if d == -1 else d for d in specs[0].shape)
    dtype = getattr(torch, str(specs[0].type), torch.float32)
    return torch.zeros(dims, dtype=dtype)


def onnx(
    model_or_uri: Any,
    example_input: Any,
    *,
    name: str | None = None,
    dynamic_batch: bool = True,
    opset: int | None = None,
    quantize: str | None = None,
    calibration_data: Any = None,
    eval_data: Any = None,
    metric_fn: Any = None,
    budget: float | None = None,
    batch_size: int = 1,
    register: bool = True,
    alias: str | None = None,
    experiment: str | None = None,
) -> PackagedModel:
    """Export ``model_or_uri`` to ONNX, check parity, optionally gate int8, benchmark, and
    record the result as a ``package`` run and a registered ``<name>-onnx`` version.

    >>> pkg = nbops.package.onnx("churn@candidate", torch.randn(1, 16),   # doctest: +SKIP
    ...                          quantize="dynamic", eval_data=batches,
    ...                          metric_fn=accuracy, budget=0.01)
    >>> pkg.uri                                                           # doctest: +SKIP
    'models:/churn-onnx/1'
    """
    from nbops.packaging.api import package_onnx
    from nbops.tracking.run import track

    store = open_store()
    model, source_model, source_run, default = load_source(model_or_uri, store)
    package_name = name or f"{default}-onnx"
    tags = {T.PACKAGE: "onnx"}
    if source_model:
        tags[T.SOURCE_MODEL] = source_model
    if source_run:
        tags[T.SOURCE_RUN] = source_run
    with tempfile.TemporaryDirectory(prefix="nbops-package-") as tmp, track(
            f"package {source_model or package_name}", experiment=experiment, tags=tags) as run:
        result = package_onnx(
            model, example_input, workdir=Path(tmp), quantize=quantize,
            calibration_data=calibration_data, eval_data=eval_data, metric_fn=metric_fn,
            budget=budget, batch_size=batch_size, dynamic_batch=dynamic_batch, opset=opset)
        run.log_params({"variant": result.variant, "exporter": result.export.exporter,
                        "quantize": quantize or "none", "serve_batch_size": batch_size})
        run.log_metrics(result.to_metrics())
        run.log_artifact(result.to_dict(), "package/report.json")
        run.set_tags({T.PACKAGE_VARIANT: result.variant,
                      T.PACKAGE_REASON: result.reason[:5000]})
        run_id = run.require_mlflow_id()
        version, model_uri = _log_onnx(store, run_id, package_name, result, example_input, tags,
                                       register)
    if alias and version:
        from nbops.registry.api import set_alias

        set_alias(package_name, alias, version, reason=f"packaged from {source_model}",
                  store=store)
    return PackagedModel(package_name, version, model_uri, run_id, source_model, source_run,
                         result)


def _log_onnx(store: Store, run_id: str, name: str, result: Any, example: Any,
              tags: dict[str, str], register: bool) -> tuple[str | None, str]:
    import onnx as onnx_lib

    from nbops.packaging.runtime import load
    from nbops.registry.models import register_version

    inputs = example if isinstance(example, tuple | list) else (example,)
    arrays = [x.detach().cpu().numpy() for x in inputs]
    outputs = load(result.onnx_path).predict(arrays)
    signature = infer_signature(arrays[0], outputs[0] if isinstance(outputs, list) else outputs)
    run = store.run(run_id)
    logged = store.create_logged_model(run.info.experiment_id, name=name, source_run_id=run_id,
                                       tags=tags)
    log_model_files(store, "onnx", logged.model_id, run_id,
                    onnx_model=onnx_lib.load(str(result.onnx_path)), signature=signature,
                    input_example=arrays[0], pip_requirements=["onnxruntime"])
    if not register:
        return None, f"models:/{logged.model_id}"
    version_tags = {**tags, T.PACKAGE_VARIANT: result.variant}
    version = register_version(store, name, logged, run_id, version_tags)
    if version is None:
        return None, f"models:/{logged.model_id}"
    return version, f"models:/{name}/{version}"
