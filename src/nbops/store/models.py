"""MLflow's model format, bound to one ``Store``: log a model's files into a logged model,
download a registered version, load one, read its signature.

MLflow's ``mlflow.<flavor>.log_model`` and ``load_model("models:/...")`` find the store
through the process-wide tracking URI; here the files are saved locally with the flavor's
``save_model`` and moved with this store's own client, so nothing global is touched.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.store.progress import quiet_downloads

if TYPE_CHECKING:
    from nbops.store.client import Store

__all__ = ["artifact_location", "download_model", "infer_signature", "load_model", "log_model_files", "mlflow_version",
           "model_signature"]


def log_model_files(store: Store, flavor: str, model_id: str, run_id: str | None,
                    **save_kwargs: Any) -> None:
    """Save a model with ``mlflow.<flavor>.save_model(**save_kwargs)`` and upload it as the
    files of logged model ``model_id`` (created with ``Store.create_logged_model``), recorded
    as an output of ``run_id``: what ``mlflow.<flavor>.log_model(model_id=...)`` does."""
    import importlib

    from mlflow.entities import LoggedModelOutput
    from mlflow.models import Model

    module = importlib.import_module(f"mlflow.{flavor}")
    c = store.client
    logged = store.call(f"reading logged model {model_id}", c.get_logged_model, model_id)
    if run_id is not None:
        store.call(f"recording logged model {model_id} in run {run_id}", c.log_outputs,
                   run_id, models=[LoggedModelOutput(model_id, step=0)])
    mlflow_model = Model(artifact_path=logged.artifact_location, model_uuid=model_id,
                         run_id=run_id, model_id=model_id)
    with tempfile.TemporaryDirectory(prefix="nbops-model-") as tmp:
        local = os.path.join(tmp, "model")
        module.save_model(path=local, mlflow_model=mlflow_model, **save_kwargs)
        store.call(f"uploading the files of {logged.name!r}", c.log_model_artifacts, model_id,
                   local, transfer=True)


def download_model(store: Store, model_uri: str, dst: str | Path) -> Path:
    """The files of ``model_uri`` (``models:/name/3``, ``models:/name@alias``,
    ``models:/m-…``, or an artifact URI of a model folder) downloaded into the folder ``dst``
    (``dst/MLmodel``, ...); ``dst``.

    A ``models:/`` URI is resolved to where the files are through this store's own client:
    MLflow's resolver would use the process-wide registry.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    location = artifact_location(store, model_uri)
    repo = get_artifact_repository(location, tracking_uri=store.tracking_uri,
                                   registry_uri=store.registry_uri)
    Path(dst).mkdir(parents=True, exist_ok=True)
    with quiet_downloads():
        store.call(f"downloading {model_uri}", repo.download_artifacts, "", dst_path=str(dst),
                   transfer=True)
    return Path(dst)


def artifact_location(store: Store, model_uri: str) -> str:
    """Where the files of ``model_uri`` are (a ``models:/`` URI resolved; others as given)."""
    if not model_uri.startswith("models:/"):
        return model_uri
    ref = model_uri[len("models:/"):].strip("/")
    if ref.startswith("m-") and "/" not in ref and "@" not in ref:
        c = store.client
        return store.call(f"reading logged model {ref}", c.get_logged_model, ref).artifact_location
    if "@" in ref:
        name, alias = ref.rsplit("@", 1)
        version = store.model_version_by_alias(name, alias).version
    else:
        name, _, version = ref.rpartition("/")
    return store.model_version_download_uri(name, str(version))


def load_model(store: Store, model_uri: str, flavor: str = "pyfunc") -> Any:
    """``mlflow.<flavor>.load_model`` of ``model_uri`` from this store (a local folder is
    loaded as it is)."""
    import importlib

    module = importlib.import_module(f"mlflow.{flavor}")
    if not model_uri.startswith(("models:/", "runs:/")):
        return module.load_model(model_uri)
    with tempfile.TemporaryDirectory(prefix="nbops-load-") as tmp:
        local = download_model(store, model_uri, tmp)
        return module.load_model(str(local))


def model_signature(store: Store, model_uri: str) -> Any:
    """The MLflow signature of ``model_uri`` (None when it has none)."""
    from mlflow.models import Model

    with tempfile.TemporaryDirectory(prefix="nbops-sig-") as tmp:
        local = download_model(store, model_uri, tmp)
        return Model.load(str(local / "MLmodel")).signature


def load_folder(folder: str | Path, flavor: str = "pyfunc") -> Any:
    """``mlflow.<flavor>.load_model`` of a model folder already on disk."""
    import importlib

    return importlib.import_module(f"mlflow.{flavor}").load_model(str(folder))


def infer_signature(model_input: Any, model_output: Any = None) -> Any:
    """MLflow's signature of an example input and output."""
    from mlflow.models import infer_signature as infer

    return infer(model_input, model_output)


def mlflow_version() -> str:
    from mlflow.version import VERSION

    return VERSION
