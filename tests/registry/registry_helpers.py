"""Helpers for the registry and lineage tests: seed a real MLflow store with the client."""

from __future__ import annotations

from typing import Any

from mlflow.entities import Dataset, DatasetInput, InputTag

from nbops.data import Fingerprint


def experiment(client: Any, name: str = "lineage") -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def start_run(client: Any, name: str, *, tags: dict[str, str] | None = None,
              parent: str | None = None, exp: str = "lineage") -> str:
    all_tags = dict(tags or {})
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    run = client.create_run(experiment(client, exp), run_name=name, tags=all_tags)
    return run.info.run_id


def add_dataset(client: Any, run_id: str, name: str, fp: Fingerprint,
                context: str = "training") -> None:
    """Record a dataset the way nbops does: MLflow dataset input + nbops.dataset.* tags."""
    for key, value in {**fp.to_tags(name), f"nbops.dataset.{name}.context": context}.items():
        client.set_tag(run_id, key, value)
    if context != "output":
        client.log_inputs(run_id, [DatasetInput(
            Dataset(name=name, digest=fp.digest[:36], source_type="code", source="{}"),
            tags=[InputTag("mlflow.data.context", context)])])


def add_version(client: Any, name: str, run_id: str | None,
                tags: dict[str, str] | None = None) -> str:
    """Register a version (no artifacts: registry tests need no model files)."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException:
        pass
    # A source an MLflow server accepts too: inside the run's artifacts, or a remote URI.
    source = f"runs:/{run_id}/model" if run_id else f"s3://nbops-test/{name}"
    mv = client.create_model_version(name, source=source, run_id=run_id, tags=tags or {})
    return str(mv.version)
