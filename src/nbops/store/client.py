"""``Store``: every call nbops makes to MLflow's tracking store and model registry.

One ``Store`` per (tracking URI, registry URI); :func:`open_store` caches them. Each method
- names what it is doing, so a failure says it (``nbops.store.errors`` turns every MLflow,
  HTTP and SQL failure into one nbops error);
- pages through results: a search returns everything that matched unless the caller passes a
  ``limit``, never the first page silently;
- is bounded in time on a server or a database: a call that has not answered within
  ``timeout`` seconds (``NBOPS_STORE_TIMEOUT``, default 5) raises ``StoreUnavailableError``.
  MLflow's own HTTP retries take minutes to give up; the call runs in a daemon thread that
  the caller stops waiting for, so neither a cell nor a server shutdown waits on it.
  A server that refuses connections is found by one TCP connect before the call.

Nothing here touches MLflow's process-wide tracking URI or the environment: every client,
artifact download and model is bound to this store's URIs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nbops.exceptions import ConflictError, StoreUnavailableError
from nbops.store.embedded import ensure_sqlite_store, sqlite_path
from nbops.store.errors import translate
from nbops.store.probe import is_remote, probe

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, LoggedModel, Metric, Run
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

    from nbops.config import Settings

__all__ = ["Store", "open_store"]

T = TypeVar("T")

# MLflow's per-request limits for log_batch.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES = 1000  # metrics + params + tags in one request
# Metric requests in flight at once to a tracking server (each after the first of a batch).
PARALLEL_REQUESTS = 2
# Page sizes of the searches (MLflow's own maxima).
_PAGE = {"runs": 1000, "experiments": 1000, "registered_models": 1000, "model_versions": 10000,
         "logged_models": 1000}
# Artifact transfers move whole files: they get this many timeouts.
_TRANSFER_FACTOR = 60


class Store:
    """MLflow's tracking store and model registry at ``tracking_uri`` / ``registry_uri``."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None, *,
                 timeout: float = 5.0) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.timeout = timeout
        self._remote = is_remote(tracking_uri)
        # A server or a database can hang; a local SQLite file answers (or is locked, which
        # SQLite itself times out).
        self._bounded = sqlite_path(tracking_uri) is None and tracking_uri.split(":")[0] != "file"
        db_file = sqlite_path(tracking_uri)
        self.artifact_root: Path | None = None
        if db_file is not None:
            self.artifact_root = db_file.parent / "artifacts" if db_file.name == "mlflow.db" \
                else db_file.parent
        self._client: MlflowClient | None = None
        self._client_lock = threading.Lock()
        self._experiments: dict[str, str] = {}
        self._probed_at = 0.0

    def __repr__(self) -> str:
        return f"Store({self.tracking_uri!r})"


    # -- the one way in ------------------------------------------------------------------------
    @property
    def client(self) -> MlflowClient:
        """The ``MlflowClient`` bound to this store (a new SQLite store is built atomically
        first). For nbops' store modules only: capabilities call the methods below."""
        with self._client_lock:
            if self._client is None:
                db_file = sqlite_path(self.tracking_uri)
                if db_file is not None and self.artifact_root is not None:
                    ensure_sqlite_store(db_file, self.artifact_root.as_uri())
                from mlflow import MlflowClient

                self._client = MlflowClient(tracking_uri=self.tracking_uri,
                                            registry_uri=self.registry_uri)
            return self._client

    def call(self, what: str, fn: Callable[..., T], *args: Any, transfer: bool = False,
             **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` under this store's error rule and time limit; ``what`` says
        what is being done ("reading run 3f2a…") for the error message."""
        try:
            if self._remote:
                self._probe()
            if not self._bounded:
                return fn(*args, **kwargs)
            limit = self.timeout * (_TRANSFER_FACTOR if transfer else 1)
            return _within(limit, what, self.tracking_uri, fn, args, kwargs)
        except Exception as exc:
            error = translate(exc, what, self.tracking_uri)
            if error is exc:
                raise
            raise error from exc

    def _probe(self) -> None:
        if time.monotonic() - self._probed_at < 1.0:
            return
        problem = probe(self.tracking_uri, timeout=min(1.0, self.timeout))
        if problem:
            raise StoreUnavailableError(
                f"The {problem}. Start the server or fix MLFLOW_TRACKING_URI / "
                "NBOPS_TRACKING_URI, then run the same call again."
            )
        self._probed_at = time.monotonic()

    def _pages(self, what: str, kind: str, fn: Callable[..., Any], limit: int | None,
               **kwargs: Any) -> list[Any]:
        """Every result of a paged MLflow search (at most ``limit`` when given)."""
        out: list[Any] = []
        token: str | None = None
        while True:
            size = _PAGE[kind] if limit is None else min(_PAGE[kind], limit - len(out))
            page = self.call(what, fn, max_results=size, page_token=token, **kwargs)
            out.extend(page)
            token = page.token
            if not token or (limit is not None and len(out) >= limit):
                return out

    # -- experiments and runs ------------------------------------------------------------------
    def warm_up(self) -> None:
        """Connect and check the schema now (in the background), not on the first real call."""
        c = self.client
        self.call("connecting", c.search_experiments, max_results=1)

    def experiment(self, name: str) -> Experiment | None:
        c = self.client
        return self.call(f"reading experiment {name!r}", c.get_experiment_by_name, name)

    def experiments(self, deleted: bool = False) -> list[Experiment]:
        """Every experiment (the deleted ones too with ``deleted``: their runs still exist)."""
        from mlflow.entities import ViewType

        c = self.client
        view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
        return self._pages("listing experiments", "experiments", c.search_experiments, None,
                           view_type=view)

    def experiment_id(self, name: str) -> str:
        """The id of experiment ``name``, created when missing (with a SQLite store, its
        artifacts beside the store)."""
        if name in self._experiments:
            return self._experiments[name]
        exp = self.experiment(name)
        if exp is None:
            location = self.artifact_root.as_uri() if self.artifact_root is not None else None
            c = self.client
            try:
                exp_id = self.call(f"creating experiment {name!r}", c.create_experiment, name,
                                   artifact_location=location)
            except ConflictError:  # created by another process meanwhile
                exp = self.experiment(name)
                if exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            exp_id = exp.experiment_id
        self._experiments[name] = exp_id
        return exp_id

    def run(self, run_id: str) -> Run:
        c = self.client
        return self.call(f"reading run {run_id}", c.get_run, run_id)

    def runs(self, experiment_ids: list[str], filter_string: str = "",
             order_by: list[str] | None = None, limit: int | None = None) -> list[Run]:
        """Runs of the experiments matching ``filter_string``: all of them unless ``limit``."""
        c = self.client
        return self._pages(f"searching runs ({filter_string or 'all'})", "runs", c.search_runs,
                           limit, experiment_ids=experiment_ids, filter_string=filter_string,
                           order_by=order_by)

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        c = self.client
        return self.call(f"reading the history of {key!r} in run {run_id}",
                         c.get_metric_history, run_id, key)

    def find_run(self, experiment_id: str, uid: str) -> str | None:
        """The MLflow id of the run nbops created for ``uid`` (its ``nbops.run_uid`` tag)."""
        from nbops.store.tags import RUN_UID

        found = self.runs([experiment_id], f"tags.`{RUN_UID}` = '{uid}'", limit=1)
        return found[0].info.run_id if found else None

    def create_run(self, experiment_id: str, uid: str, name: str | None, started: float,
                   parent_mlflow_id: str | None) -> str:
        from nbops.store.tags import PARENT_RUN, RUN_UID

        tags = {RUN_UID: uid}
        if parent_mlflow_id:
            tags[PARENT_RUN] = parent_mlflow_id
        c = self.client
        run = self.call(f"creating run {name or uid}", c.create_run, experiment_id,
                        start_time=int(started * 1000), tags=tags, run_name=name)
        return run.info.run_id

    def log_batch(self, run_id: str, metrics: list[list[Any]], params: dict[str, str],
                  tags: dict[str, str]) -> None:
        """Metrics ``[key, value, timestamp_ms, step]``, params and tags, in as few requests
        as MLflow's per-request limits allow."""
        from mlflow.entities import Metric, Param, RunTag

        c = self.client
        what = f"logging to run {run_id}"
        param_objs = [Param(k, str(v)) for k, v in params.items()]
        tag_objs = [RunTag(k, str(v)) for k, v in tags.items()]
        metric_objs = [Metric(k, float(v), int(ts), int(step)) for k, v, ts, step in metrics]
        if (len(param_objs) <= MAX_PARAMS_PER_BATCH and len(tag_objs) <= MAX_TAGS_PER_BATCH
                and len(param_objs) + len(tag_objs) + len(metric_objs) <= MAX_ENTITIES):
            if param_objs or tag_objs or metric_objs:
                self.call(what, c.log_batch, run_id, metrics=metric_objs, params=param_objs,
                          tags=tag_objs)
            return
        for i in range(0, len(param_objs), MAX_PARAMS_PER_BATCH):
            self.call(what, c.log_batch, run_id, params=param_objs[i:i + MAX_PARAMS_PER_BATCH])
        for i in range(0, len(tag_objs), MAX_TAGS_PER_BATCH):
            self.call(what, c.log_batch, run_id, tags=tag_objs[i:i + MAX_TAGS_PER_BATCH])
        chunks = [metric_objs[i:i + MAX_METRICS_PER_BATCH]
                  for i in range(0, len(metric_objs), MAX_METRICS_PER_BATCH)]
        if not self._remote or len(chunks) < 3:
            for chunk in chunks:
                self.call(what, c.log_batch, run_id, metrics=chunk)
            return
        # A server parses and writes each request in Python (about 0.1 s per 1,000 metrics);
        # several workers (MLflow's default is 4) take requests side by side. The first
        # request alone creates the latest-value rows of its keys, which later ones only lock
        # (a key first seen in two requests at once is settled by MLflow's own retry).
        self.call(what, c.log_batch, run_id, metrics=chunks[0])
        left = iter(chunks[1:])
        lock = threading.Lock()
        failures: list[BaseException] = []

        def send() -> None:
            while not failures:  # after a failure, no new request: the caller retries all
                with lock:
                    chunk = next(left, None)
                if chunk is None:
                    return
                try:
                    self.call(what, c.log_batch, run_id, metrics=chunk)
                except BaseException as exc:  # noqa: BLE001 - raised below, in the caller
                    failures.append(exc)

        # Plain threads, not a concurrent.futures pool: this also runs in exit handlers (the
        # spool's last shipment), where such a pool refuses new work.
        senders = [threading.Thread(target=send, name="nbops-batch", daemon=True)
                   for _ in range(PARALLEL_REQUESTS)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        if failures:
            raise failures[0]

    def log_artifact(self, run_id: str, local_path: str | Path,
                     artifact_path: str | None = None) -> None:
        """A file, or a folder (as ``<artifact_path>/<folder name>``), into the run."""
        c = self.client
        local = Path(local_path)
        what = f"uploading {local.name} to run {run_id}"
        if local.is_dir():
            target = "/".join(p for p in (artifact_path, local.name) if p)
            self.call(what, c.log_artifacts, run_id, str(local), target, transfer=True)
        else:
            self.call(what, c.log_artifact, run_id, str(local), artifact_path or None,
                      transfer=True)

    def log_datasets(self, run_id: str, datasets: list[dict[str, Any]]) -> None:
        """Dataset inputs (MLflow's ``log_inputs``; logging one twice is a no-op)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        from nbops.store.tags import DATASET_CONTEXT

        inputs = [
            DatasetInput(
                Dataset(name=d["name"], digest=d["digest"], source_type=d["source_type"],
                        source=d["source"], schema=d.get("schema"), profile=d.get("profile")),
                tags=[InputTag(DATASET_CONTEXT, d["context"])],
            )
            for d in datasets
        ]
        c = self.client
        self.call(f"logging datasets of run {run_id}", c.log_inputs, run_id, datasets=inputs)

    def terminate(self, run_id: str, status: str, ended: float) -> None:
        """End the run with the status and end time the run recorded. Through the store
        itself: ``MlflowClient.set_terminated`` prints a "View run" line to stdout for a
        server, which from a background thread would land in whichever cell is running."""
        from mlflow.entities import RunStatus

        store = self.client._tracking_client.store
        self.call(f"ending run {run_id}", store.update_run_info, run_id,
                  run_status=RunStatus.from_string(status), end_time=int(ended * 1000),
                  run_name=None)

    def download_artifacts(self, run_id: str, path: str, dst: str | Path) -> str:
        """Download ``path`` of the run into the folder ``dst``; the local path."""
        from nbops.store.progress import quiet_downloads

        c = self.client
        with quiet_downloads():
            return self.call(f"downloading {path} of run {run_id}", c.download_artifacts,
                             run_id, path, str(dst), transfer=True)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[Any]:
        c = self.client
        return self.call(f"listing artifacts of run {run_id}", c.list_artifacts, run_id, path)

    # -- logged models ------------------------------------------------------------------------
    def create_logged_model(self, experiment_id: str, name: str, source_run_id: str,
                            **kwargs: Any) -> LoggedModel:
        c = self.client
        return self.call(f"creating logged model {name!r}", c.create_logged_model,
                         experiment_id, name=name, source_run_id=source_run_id, **kwargs)

    def logged_models(self, experiment_ids: list[str], filter_string: str | None = None,
                      limit: int | None = None) -> list[LoggedModel]:
        c = self.client
        return self._pages("searching logged models", "logged_models", c.search_logged_models,
                           limit, experiment_ids=experiment_ids, filter_string=filter_string)

    # -- the model registry -------------------------------------------------------------------
    def registered_model(self, name: str) -> RegisteredModel:
        """Model ``name``; ``NotFoundError`` when there is none."""
        c = self.client
        return self.call(f"reading model {name!r}", c.get_registered_model, name)

    def registered_models(self, filter_string: str | None = None,
                          limit: int | None = None) -> list[RegisteredModel]:
        c = self.client
        return self._pages("listing registered models", "registered_models",
                           c.search_registered_models, limit, filter_string=filter_string)

    def ensure_registered_model(self, name: str) -> None:
        """Create model ``name`` unless it exists."""
        c = self.client
        try:
            self.call(f"creating model {name!r}", c.create_registered_model, name)
        except ConflictError:
            pass

    def model_version(self, name: str, version: str | int) -> ModelVersion:
        c = self.client
        return self.call(f"reading {name}/{version}", c.get_model_version, name, str(version))

    def model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        c = self.client
        return self.call(f"reading {name}@{alias}", c.get_model_version_by_alias, name, alias)

    def model_versions(self, filter_string: str | None = None, order_by: list[str] | None = None,
                       limit: int | None = None) -> list[ModelVersion]:
        c = self.client
        return self._pages(f"listing model versions ({filter_string or 'all'})",
                           "model_versions", c.search_model_versions, limit,
                           filter_string=filter_string, order_by=order_by)

    def create_model_version(self, name: str, source: str, run_id: str | None,
                             tags: dict[str, str], model_id: str | None = None) -> ModelVersion:
        c = self.client
        return self.call(f"registering a version of {name!r}", c.create_model_version, name,
                         source=source, run_id=run_id, tags=tags, model_id=model_id)

    def model_version_download_uri(self, name: str, version: str) -> str:
        c = self.client
        return self.call(f"reading where {name}/{version} is stored",
                         c.get_model_version_download_uri, name, version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        c = self.client
        self.call(f"setting alias {alias!r} of {name!r}", c.set_registered_model_alias, name,
                  alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        c = self.client
        self.call(f"deleting alias {alias!r} of {name!r}", c.delete_registered_model_alias,
                  name, alias)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        c = self.client
        self.call(f"tagging model {name!r}", c.set_registered_model_tag, name, key, value)

    def delete_model_tag(self, name: str, key: str) -> None:
        c = self.client
        self.call(f"untagging model {name!r}", c.delete_registered_model_tag, name, key)

    def set_version_tag(self, name: str, version: str | int, key: str, value: str) -> None:
        c = self.client
        self.call(f"tagging {name}/{version}", c.set_model_version_tag, name, str(version), key,
                  value)

    def delete_version_tag(self, name: str, version: str | int, key: str) -> None:
        c = self.client
        self.call(f"untagging {name}/{version}", c.delete_model_version_tag, name, str(version),
                  key)

    def describe_model(self, name: str, description: str) -> None:
        c = self.client
        self.call(f"describing {name!r}", c.update_registered_model, name,
                  description=description)

    def describe_version(self, name: str, version: str | int, description: str) -> None:
        c = self.client
        self.call(f"describing {name}/{version}", c.update_model_version, name, str(version),
                  description=description)


def _within(limit: float, what: str, uri: str, fn: Callable[..., T], args: tuple,
            kwargs: dict) -> T:
    """``fn(*args, **kwargs)`` in a daemon thread, waited for at most ``limit`` seconds."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name=f"nbops-store: {what[:40]}", daemon=True).start()
    if not done.wait(limit):
        raise StoreUnavailableError(
            f"The tracking store {uri} did not answer within {limit:g} s while {what}. Check "
            "that it is up and not overloaded (`nbops status`); NBOPS_STORE_TIMEOUT sets the "
            "limit."
        )
    if "error" in box:
        raise box["error"]
    return box["value"]


_stores: dict[tuple[str, str, float], Store] = {}
_stores_lock = threading.Lock()


def open_store(settings: Settings | None = None, *, tracking_uri: str | None = None) -> Store:
    """The ``Store`` of ``settings`` (default: the settings in force), or of ``tracking_uri``;
    one per URI pair and timeout in a process."""
    if settings is None:
        from nbops.config import load_settings

        settings = load_settings()
    uri = tracking_uri or settings.tracking_uri
    registry = settings.registry_uri or uri
    key = (uri, registry, settings.store_timeout)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = Store(uri, registry, timeout=settings.store_timeout)
        return _stores[key]
