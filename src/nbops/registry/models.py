"""``log_model``: log a torch model from the active nbops run and register a version of it.

What one call does, in order:

1. checks the model is a ``torch.nn.Module`` and that an nbops run is active;
2. waits (bounded) until the run exists in MLflow and what it logged so far is there;
3. infers a signature from ``input_example`` and the model's output on it;
4. logs the model with MLflow's pytorch flavour as a LoggedModel of the run (``model_id``);
5. registers a version linked to the run (MLflow's source run), tagged ``nbops.source_run``,
   ``nbops.model_id`` and ``nbops.dataset.<name>.digest`` for every dataset the run read;
6. points ``alias`` at the new version through the audited alias API (``set_alias``).

Example:
    >>> import torch, nbops
    >>> from nbops.registry import log_model
    >>> with nbops.track("train"):                                   # doctest: +SKIP
    ...     net = torch.nn.Linear(4, 2)
    ...     ref = log_model(net, "churn", input_example=torch.randn(3, 4), alias="staging")
    >>> ref.uri                                                       # doctest: +SKIP
    'models:/churn/1'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nbops.exceptions import (
    DependencyMissingError,
    NoActiveRunError,
    StoreUnavailableError,
    UsageError,
)
from nbops.registry._store import (
    client_for_uri,
    error_code,
    registry_writes_allowed,
    store_errors,
    use_tracking_uri,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run as MlflowRun

__all__ = ["ModelRef", "dataset_digests", "log_model"]

TAG_SOURCE_RUN = "nbops.source_run"
TAG_MODEL_ID = "nbops.model_id"
_DIGEST_TAG = re.compile(r"^nbops\.dataset\.(.+)\.digest$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version logged by nbops.

    Attributes:
        name: registered model name.
        version: version string (``None`` when logged with ``register=False``).
        uri: ``models:/name/3``; ``models:/<model_id>`` when not registered.
        run_id: MLflow id of the run that logged it.
        model_id: MLflow 3 LoggedModel id (``m-...``).
    """

    name: str
    version: str | None
    uri: str
    run_id: str
    model_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.name}/{self.version}" if self.version else self.uri


def log_model(
    model: Any,
    name: str,
    *,
    register: bool = True,
    input_example: Any = None,
    alias: str | None = None,
    reason: str | None = None,
    pip_requirements: list[str] | None = None,
    serialization_format: str | None = None,
    run_wait_timeout: float = 60.0,
) -> ModelRef:
    """Log a ``torch.nn.Module`` from the active nbops run and register a new version.

    Blocks until MLflow has the model (a store operation, a few seconds). ``input_example``
    (a tensor or numpy array) gives the model a signature (inputs and the model's outputs on
    it). ``pip_requirements`` skips MLflow's requirement inference (a subprocess, ~5 s).
    ``serialization_format``: ``"pickle"`` (default: the ``nn.Module`` itself, which
    ``nbops.package.onnx`` can re-export with a dynamic batch axis) or ``"pt2"``
    (``torch.export``, MLflow's own default: no pickle, but shape-specialized to the example).
    The version is linked to the training datasets recorded with ``nbops.dataset`` in this
    run — or, when it recorded none, the latest ones recorded in this process (data loaded in
    an earlier cell) — and a profile and a sample of the training DataFrame are stored in the
    run as the version's monitoring reference.
    ``alias`` (needs ``register=True``) is set through :func:`nbops.registry.set_alias`, so the
    change is audited with ``reason``.

    Example:
        >>> with nbops.track("train"):                                # doctest: +SKIP
        ...     ref = log_model(torch.nn.Linear(4, 2), "churn", input_example=torch.ones(1, 4))
    """
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        kind = type(model)
        raise UsageError(
            f"log_model() logs torch.nn.Module models; got a {kind.__module__}.{kind.__qualname__}."
            " Pass the torch module itself (for a wrapped model, its `.model` or `.module`), or "
            "log other objects with nbops.log_artifact()."
        )
    if not isinstance(name, str) or not name.strip() or "/" in name or ":" in name:
        raise UsageError(f"Model name {name!r} is not valid: use a non-empty name without '/' "
                         "or ':' (e.g. 'churn-classifier').")
    if alias is not None and not register:
        raise UsageError("alias= needs register=True: an alias points at a registered version.")
    from nbops.tracking.run import Tracker

    run = Tracker.active()
    if run is None:
        raise NoActiveRunError("nbops.log_model")

    run_id = run.require_mlflow_id()
    from nbops.data.tracked import training_data_for

    reference = training_data_for(run)
    if reference is not None:
        from nbops.data.io_hooks import suspended
        from nbops.monitoring.model_check import store_reference

        with suspended():  # the reference sample is nbops' own file, not a user output
            store_reference(run, reference)
    run.wait(run_wait_timeout)  # tags and dataset inputs logged so far, for the version's tags
    uri = run.tracker.settings.tracking_uri
    client = client_for_uri(uri)
    signature, example = _signature(torch, model, input_example)

    with store_errors(f"logging model {name!r}", client):
        mlflow_run = client.get_run(run_id)
        logged = client.create_logged_model(
            mlflow_run.info.experiment_id, name=name, source_run_id=run_id,
            tags={TAG_SOURCE_RUN: run_id},
        )
        _save(model, name, logged.model_id, run_id, uri, signature, example, pip_requirements,
              serialization_format)
    if not register:
        return ModelRef(name, None, f"models:/{logged.model_id}", run_id, logged.model_id)

    tags = {TAG_SOURCE_RUN: run_id, TAG_MODEL_ID: logged.model_id}
    tags.update({f"nbops.dataset.{ds}.digest": digest
                 for ds, digest in dataset_digests(mlflow_run).items()})
    version = _register(client, uri, name, logged.model_id, run_id, tags)
    if version is None:
        return ModelRef(name, None, f"models:/{logged.model_id}", run_id, logged.model_id)
    ref = ModelRef(name, version, f"models:/{name}/{version}", run_id, logged.model_id)
    if alias is not None:
        from nbops.registry.api import set_alias

        set_alias(name, alias, version, reason=reason, client=client)
    return ref


def dataset_digests(run: MlflowRun) -> dict[str, str]:
    """Dataset name → digest of what ``run`` read: nbops ``nbops.dataset.<name>.digest`` tags
    (full digests; datasets tagged ``context=output`` are left out) and MLflow dataset inputs."""
    tags: Mapping[str, str] = run.data.tags
    found: dict[str, str] = {}
    for key, value in tags.items():
        match = _DIGEST_TAG.match(key)
        if match and tags.get(f"nbops.dataset.{match.group(1)}.context") != "output":
            found[match.group(1)] = value
    inputs = run.inputs.dataset_inputs if run.inputs is not None else []
    for item in inputs:
        ds = item.dataset
        known = found.get(ds.name)
        if known is None or not known.startswith(ds.digest):
            found.setdefault(ds.name, ds.digest)
    return found


def _save(model: Any, name: str, model_id: str, run_id: str, uri: str, signature: Any,
          example: Any, pip_requirements: list[str] | None, fmt: str | None) -> None:
    import mlflow.pytorch

    if fmt not in (None, "pt2", "pickle"):
        raise UsageError(f"serialization_format must be 'pt2' or 'pickle'; got {fmt!r}.")
    if fmt == "pt2" and example is None:
        raise UsageError("serialization_format='pt2' traces the model: pass input_example too.")
    with use_tracking_uri(uri):
        mlflow.pytorch.log_model(
            model, name=name, model_id=model_id, run_id=run_id, signature=signature,
            input_example=example, pip_requirements=pip_requirements,
            serialization_format=fmt or "pickle",
        )


def _register(client: MlflowClient, uri: str, name: str, model_id: str, run_id: str,
              tags: dict[str, str]) -> str | None:
    """Register the logged model as a new version of ``name``; ``None`` when the settings turn
    registry writes off (the model stays logged in its run)."""
    from mlflow.exceptions import MlflowException

    if not registry_writes_allowed(f"registering a version of model {name!r}"):
        return None

    with store_errors(f"registering model {name!r}", client), use_tracking_uri(uri):
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            if error_code(exc) not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        mv = client.create_model_version(name, source=f"models:/{model_id}", run_id=run_id,
                                         tags=tags, model_id=model_id)
    if mv.status not in ("READY", None):
        raise StoreUnavailableError(
            f"MLflow created {name}/{mv.version} but it is {mv.status} ({mv.status_message}). "
            "Check the registry, then log the model again."
        )
    return str(mv.version)


def _signature(torch: Any, model: Any, example: Any) -> tuple[Any, Any]:
    """(signature, numpy example) from the example and the model's output on it."""
    if example is None:
        return None, None
    import numpy as np

    if isinstance(example, torch.Tensor):
        tensor = example
    elif isinstance(example, np.ndarray):
        tensor = torch.from_numpy(example)
    else:
        raise UsageError(
            f"input_example must be a torch.Tensor or numpy array; got a "
            f"{type(example).__name__}. Pass one batch of model input, e.g. torch.randn(1, 4)."
        )
    with torch.no_grad():
        try:
            output = model(tensor)
        except Exception as exc:
            raise UsageError(
                f"The model failed on input_example (shape {tuple(tensor.shape)}): "
                f"{type(exc).__name__}: {exc}. Pass an input the model accepts."
            ) from exc
    example_np = tensor.detach().cpu().numpy()
    output_np = output.detach().cpu().numpy() if isinstance(output, torch.Tensor) else None
    from mlflow.models import infer_signature

    return infer_signature(example_np, output_np), example_np


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise DependencyMissingError("torch", "nbops.log_model", "torch") from None
    return torch
