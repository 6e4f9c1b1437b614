"""The MLflow side of tracking: a thin adapter over ``mlflow.MlflowClient``.

Only the shipper thread calls into this module, so ``import mlflow`` (about 2 s) and the first
creation of an embedded SQLite store (schema migrations, about 2.4 s) never run on a user's cell.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from nbops.config import Settings
from nbops.exceptions import ConfigError, PermanentStoreError, StoreUnavailableError
from nbops.tracking.embedded import ensure_sqlite_store, sqlite_path

__all__ = ["MlflowStore", "PermanentStoreError", "check_config", "is_outage"]

# MLflow's per-request limits for log_batch.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100


#: URI schemes MLflow can track to (the part before ``+`` for SQLAlchemy dialects).
KNOWN_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks",
                 "databricks-uc", "uc", "file")


def check_config(settings: Settings) -> None:
    """Fail fast, with a fix-it message, for a store configuration that can never work.

    Only what no retry can fix is checked here: a malformed URI, an unknown scheme, a SQLite
    folder that cannot be written. A server that is down is *not* an error at start: runs are
    spooled and ship when it is back.
    """
    uri = settings.tracking_uri
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+", 1)[0].lower()
    if scheme == "" and uri.strip():
        scheme = "file"  # a plain path: MLflow's file store
    if scheme not in KNOWN_SCHEMES:
        raise ConfigError(
            f"The tracking URI {uri!r} has no scheme MLflow knows ({scheme or 'none'!s}). Use "
            "http(s)://host:port for an MLflow server, sqlite:////abs/path/mlflow.db or "
            "postgresql://... for a database, or unset MLFLOW_TRACKING_URI / "
            f"NBOPS_TRACKING_URI to use the embedded store under {settings.home}."
        )
    if scheme in ("http", "https") and not parsed.hostname:
        raise ConfigError(
            f"The tracking URI {uri!r} names no host. Write it as {scheme}://HOST:PORT, e.g. "
            "http://127.0.0.1:5000."
        )
    if scheme == "file" and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() != "true":
        raise ConfigError(
            f"The tracking URI {uri!r} is an MLflow file store, which MLflow 3 refuses unless "
            "MLFLOW_ALLOW_FILE_STORE=true. Unset the URI to use the embedded SQLite store under "
            f"{settings.home}, or point it at sqlite:///... or an MLflow server."
        )
    db_file = sqlite_path(uri)
    if scheme == "sqlite" and db_file is not None:
        folder = db_file.parent
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


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the store is unreachable, slow or busy (retry later); False when
    the event itself cannot be written (set it aside)."""
    from nbops.exceptions import StoreUnavailableError as Unavailable

    if isinstance(exc, Unavailable | OSError | TimeoutError | ConnectionError):
        return True
    if type(exc).__module__.split(".")[0] in ("requests", "urllib3", "sqlalchemy", "sqlite3"):
        return True
    status = getattr(exc, "get_http_status_code", None)
    if callable(status):
        code = status()
        return code >= 500 or code in (408, 429)
    return False


class MlflowStore:
    """Create runs and ship batches to one MLflow tracking store."""

    def __init__(self, settings: Settings) -> None:
        db_file = sqlite_path(settings.tracking_uri)
        if db_file is not None:  # built atomically: a crash never leaves a half-made store
            artifact_root = settings.artifact_root if settings.embedded else db_file.parent
            ensure_sqlite_store(db_file, artifact_root.as_uri())
        from mlflow import MlflowClient

        self.settings = settings
        self.client = MlflowClient(tracking_uri=settings.tracking_uri)
        self._experiments: dict[str, str] = {}
        self._remote = urlparse(settings.tracking_uri).scheme in ("http", "https")
        self._probed_at = 0.0

    def warm_up(self) -> None:
        """Touch the store once (connect, check the schema) now, in the background."""
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
        """End the run with the status and end time the run recorded. Through the store
        itself: ``MlflowClient.set_terminated`` prints a "View run" line to stdout for a
        server, which from this background thread would land in whichever cell is running."""
        from mlflow.entities import RunStatus

        store = self.client._tracking_client.store
        self._call(store.update_run_info, run_id, run_status=RunStatus.from_string(status),
                   end_time=int(ended * 1000), run_name=None)

    # -- error policy ------------------------------------------------------------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call MLflow; a 4xx verdict becomes PermanentStoreError, anything else propagates
        (and is retried by the shipper).

        A server that refuses connections is found by one TCP connect (at most once a second)
        before MLflow's own HTTP retries, which take minutes to give up, can start.
        """
        from mlflow.exceptions import MlflowException

        if self._remote and time.monotonic() - self._probed_at > 1.0:
            from nbops.tracking.logger import probe_server

            problem = probe_server(self.settings)
            if problem:
                raise ConnectionRefusedError(problem)
            self._probed_at = time.monotonic()
        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            status = exc.get_http_status_code()
            if 400 <= status < 500 and status not in (408, 429):
                raise PermanentStoreError(exc.message) from exc
            raise
