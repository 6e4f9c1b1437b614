"""``nbops.log_model``: log a torch model from the active run and register a version of it.

A workflow: it spans tracking (the run), data (what the run read), monitoring (the reference
profile of the training data) and the registry (the version, its alias). In order:

1. checks the model is a ``torch.nn.Module`` and that an nbops run is active;
2. stores the training data's profile and sample in the run as the monitoring reference;
3. waits (bounded) until the run exists in MLflow and what it logged so far is there;
4. infers a signature from ``input_example`` and the model's output on it;
5. logs the model in MLflow's pytorch format as a LoggedModel of the run (``model_id``);
6. registers a version linked to the run, tagged ``nbops.source_run``, ``nbops.model_id`` and
   ``nbops.dataset.<name>.digest`` for every dataset the run read;
7. points ``alias`` at the new version through the audited alias API (``set_alias``).

Example:
    >>> import torch, nbops
    >>> with nbops.track("train"):                                   # doctest: +SKIP
    ...     net = torch.nn.Linear(4, 2)
    ...     ref = nbops.log_model(net, "churn", input_example=torch.randn(3, 4), alias="staging")
    >>> ref.uri                                                       # doctest: +SKIP
    'models:/churn/1'
"""

from __future__ import annotations

from typing import Any

from nbops.exceptions import DependencyMissingError, NoActiveRunError, UsageError
from nbops.registry.api import set_alias
from nbops.registry.models import ModelRef, dataset_digests, register_version
from nbops.store import open_store
from nbops.store import tags as T
from nbops.store.models import infer_signature, log_model_files

__all__ = ["log_model"]


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
    store = open_store(run.tracker.settings)
    signature, example = _signature(torch, model, input_example)
    _check_format(serialization_format, example)

    mlflow_run = store.run(run_id)
    logged = store.create_logged_model(mlflow_run.info.experiment_id, name=name,
                                       source_run_id=run_id, tags={T.SOURCE_RUN: run_id})
    log_model_files(store, "pytorch", logged.model_id, run_id, pytorch_model=model,
                    signature=signature, input_example=example,
                    pip_requirements=pip_requirements,
                    serialization_format=serialization_format or "pickle")
    if not register:
        return ModelRef(name, None, f"models:/{logged.model_id}", run_id, logged.model_id)

    tags = {T.SOURCE_RUN: run_id, T.MODEL_ID: logged.model_id}
    tags.update({T.dataset_tag(ds, "digest"): digest
                 for ds, digest in dataset_digests(mlflow_run).items()})
    version = register_version(store, name, logged, run_id, tags)
    if version is None:
        return ModelRef(name, None, f"models:/{logged.model_id}", run_id, logged.model_id)
    ref = ModelRef(name, version, f"models:/{name}/{version}", run_id, logged.model_id)
    if alias is not None:
        set_alias(name, alias, version, reason=reason, store=store)
    return ref

def _check_format(fmt: str | None, example: Any) -> None:
    if fmt not in (None, "pt2", "pickle"):
        raise UsageError(f"serialization_format must be 'pt2' or 'pickle'; got {fmt!r}.")
    if fmt == "pt2" and example is None:
        raise UsageError("serialization_format='pt2' traces the model: pass input_example too.")

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
    return infer_signature(example_np, output_np), example_np


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise DependencyMissingError("torch", "nbops.log_model", "torch") from None
    return torch
