"""The MLflow side of tracking: a thin adapter over ``mlflow.MlflowClient``.

Only the shipper thread calls into this module, so ``import mlflow`` (about 2 s) and the first
creation of an embedded SQLite store (schema migrations, about 2.4 s) never run on a user's cell.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from nbops.config import Settings
from nbops.exceptions import StoreUnavailableError

__all__ = ["MlflowStore", "PermanentStoreError", "check_reachable"]

# MLflow's per-request limits for log_batch.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100


class PermanentStoreError(Exception):
    """MLflow refused an event as invalid: retrying it cannot succeed."""


def check_reachable(settings: Settings, timeout: float = 2.0) -> None:
    """Fail fast, with a fix-it message, when the configured store cannot possibly work.

    HTTP(S) servers get one TCP connect; SQLite stores need a writable folder. Other schemes
    (databricks, postgresql, ...) are left to MLflow.
    """
    uri = settings.tracking_uri
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            with socket.create_connection((parsed.hostname or "localhost", port), timeout=timeout):
                pass
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot reach the MLflow tracking server at {uri} ({exc}). Start the server, fix "
                "MLFLOW_TRACKING_URI / NBOPS_TRACKING_URI, or unset them to use the embedded "
                f"store under {settings.home}."
            ) from None
    elif parsed.scheme == "sqlite":
        folder = Path(parsed.path[1:] if parsed.path.startswith("//") else parsed.path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot create the folder {folder} of the SQLite store {uri}: {exc.strerror}. "
                "Point NBOPS_HOME or the tracking URI at a writable folder."
            ) from None
        probe = folder / f".nbops-write-probe-{time.time_ns()}"
        try:
            probe.touch()
            probe.unlink()
        except OSError:
            raise StoreUnavailableError(
                f"The folder {folder} of the SQLite store {uri} is not writable. Fix its "
                "permissions or point NBOPS_HOME at a writable folder."
            ) from None


class MlflowStore:
    """Create runs and ship batches to one MLflow tracking store."""

    def __init__(self, settings: Settings) -> None:
        from mlflow import MlflowClient

        self.settings = settings
        self.client = MlflowClient(tracking_uri=settings.tracking_uri)
        self._experiments: dict[str, str] = {}

    def warm_up(self) -> None:
        """Touch the store once so an embedded SQLite store is created now, in the background."""
        self._call(self.client.search_experiments, max_results=1)

    # -- experiments and runs ----------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        if name in self._experiments:
            return self._experiments[name]
        exp = self._call(self.client.get_experiment_by_name, name)
        if exp is None:
            location = None
            if self.settings.embedded:
                location = (self.settings.artifact_root).as_uri()
            try:
                exp_id = self._call(self.client.create_experiment, name,
                                    artifact_location=location)
            except PermanentStoreError:  # created by another process meanwhile
                exp = self._call(self.client.get_experiment_by_name, name)
                if exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            exp_id = exp.experiment_id
        self._experiments[name] = exp_id
        return exp_id

    def find_run(self, experiment_id: str, uid: str) -> str | None:
        runs = self._call(self.client.search_runs, [experiment_id],
                          filter_string=f"tags.`nbops.run_uid` = '{uid}'", max_results=1)
        return runs[0].info.run_id if runs else None

    def create_run(self, experiment_id: str, uid: str, name: str | None, started: float,
                   parent_mlflow_id: str | None) -> str:
        tags = {"nbops.run_uid": uid}
        if parent_mlflow_id:
            tags["mlflow.parentRunId"] = parent_mlflow_id
        run = self._call(self.client.create_run, experiment_id, start_time=int(started * 1000),
                         tags=tags, run_name=name)
        return run.info.run_id

    # -- data ----------------------------------------------------------------------------------
    def log_batch(self, run_id: str, metrics: list[list[Any]], params: dict[str, str],
                  tags: dict[str, str]) -> None:
        from mlflow.entities import Metric, Param, RunTag

        metric_objs = [Metric(k, float(v), int(ts), int(step)) for k, v, ts, step in metrics]
        param_objs = [Param(k, str(v)) for k, v in params.items()]
        tag_objs = [RunTag(k, str(v)) for k, v in tags.items()]
        for i in range(0, len(param_objs), MAX_PARAMS_PER_BATCH):
            self._call(self.client.log_batch, run_id, params=param_objs[i:i + MAX_PARAMS_PER_BATCH])
        for i in range(0, len(tag_objs), MAX_TAGS_PER_BATCH):
            self._call(self.client.log_batch, run_id, tags=tag_objs[i:i + MAX_TAGS_PER_BATCH])
        for i in range(0, len(metric_objs), MAX_METRICS_PER_BATCH):
            self._call(self.client.log_batch, run_id,
                       metrics=metric_objs[i:i + MAX_METRICS_PER_BATCH])

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None) -> None:
        if Path(local_path).is_dir():
            target = "/".join(p for p in (artifact_path, Path(local_path).name) if p)
            self._call(self.client.log_artifacts, run_id, local_path, target)
        else:
            self._call(self.client.log_artifact, run_id, local_path, artifact_path or None)

    def log_datasets(self, run_id: str, datasets: list[dict[str, Any]]) -> None:
        """Log dataset inputs (MLflow's ``log_inputs``; logging one twice is a no-op)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(
                Dataset(name=d["name"], digest=d["digest"], source_type=d["source_type"],
                        source=d["source"], schema=d.get("schema"), profile=d.get("profile")),
                tags=[InputTag("mlflow.data.context", d["context"])],
            )
            for d in datasets
        ]
        self._call(self.client.log_inputs, run_id, datasets=inputs)

    def terminate(self, run_id: str, status: str, ended: float) -> None:
        self._call(self.client.set_terminated, run_id, status=status, end_time=int(ended * 1000))

    # -- error policy ------------------------------------------------------------------------
    @staticmethod
    def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call MLflow; a 4xx verdict becomes PermanentStoreError, anything else propagates
        (and is retried by the shipper)."""
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            status = exc.get_http_status_code()
            if 400 <= status < 500 and status not in (408, 429):
                raise PermanentStoreError(exc.message) from exc
            raise
