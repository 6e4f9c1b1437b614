"""A run: one tracked execution, the object ``with nbops.track(...) as run:`` gives.

A :class:`Run` validates what the user logs (:mod:`nbops.tracking.values`) and puts it on the
durable logger's queue; it never waits for MLflow. Its tracker (:class:`RunOwner`, a
:class:`~nbops.tracking.tracker.Tracker`) started it and ends it; see :mod:`nbops.tracking.run`
for the lifecycle.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nbops.config import Settings
from nbops.exceptions import StoreUnavailableError, UsageError
from nbops.store import tags as T
from nbops.tracking.logger import DurableLogger, MetricSeries
from nbops.tracking.redact import Redactor
from nbops.tracking.values import (
    MAX_PARAM_LENGTH,
    check_key,
    coerce_metric,
    param_text,
    serializer,
)

__all__ = ["Run", "RunOwner", "RunSummary"]


class RunOwner(Protocol):
    """What a run needs from the tracker that started it (a
    :class:`~nbops.tracking.tracker.Tracker`): written out so that this module does not
    import the tracker, which imports it."""

    settings: Settings
    redactor: Redactor
    #: name -> (fingerprint, source, DataFrame or None) of the latest training datasets
    training_data: dict[str, tuple[Any, str | None, Any]]

    @property
    def logger(self) -> DurableLogger: ...

    def staging_dir(self, uid: str) -> Path: ...

    def _finish(self, run: Run) -> None: ...


@dataclass
class RunSummary:
    """What the inline summary shows; everything here is known locally, without MLflow."""

    name: str
    uid: str
    experiment: str
    status: str
    started: float
    ended: float | None
    params: dict[str, str]
    metrics: dict[str, MetricSeries]
    mlflow_run_id: str | None
    tracking_uri: str
    error: str | None = None
    artifacts: list[str] = field(default_factory=list)
    problem: str | None = None
    backlog: int = 0

    @property
    def duration(self) -> float:
        return (self.ended or time.time()) - self.started


class Run:
    """One tracked execution. Create it with :func:`track` (or ``%%track``)."""

    def __init__(self, tracker: RunOwner, uid: str, name: str, experiment: str,
                 parent: Run | None, started: float) -> None:
        self.tracker = tracker
        self.uid = uid
        self.name = name
        self.experiment = experiment
        self.parent = parent
        self.started = started
        self.ended: float | None = None
        self.status = "RUNNING"
        self.params: dict[str, str] = {}
        self.artifacts: list[str] = []
        self.datasets: list[tuple[str, str, str]] = []
        self.error: str | None = None
        self._queue = tracker.logger.queue
        self._steps: dict[str, int] = {}
        self._keys: set[str] = set()
        self._dataset_contexts: dict[str, list[str]] = {}
        self.git_root: str | None = None  # set by the start capture, in a git repository
        self.capture_modules = False

    def __repr__(self) -> str:
        return f"<nbops.Run {self.name!r} uid={self.uid[:8]} status={self.status}>"

    # -- metrics (the hot path) ------------------------------------------------------------------
    def log(self, step: int | None = None, **values: Any) -> None:
        """Log metric values, e.g. ``run.log(loss=0.3, acc=0.9, step=epoch)``; returns at once.

        Accepts int, float, bool, numpy scalars and one-element torch tensors (read in the
        background, in bulk: no device sync per call). Without ``step``, each metric counts its
        own steps from 0. NaN and ±inf are logged as MLflow stores them (NaN kept, inf clamped
        to the largest float) and flagged in the run summary.
        """
        self.log_metrics(values, step)

    def log_metrics(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Log a dict of metric values; see :meth:`log`."""
        if self.ended is not None:
            raise UsageError(f"Run {self.name!r} has ended; log inside its `track` block.")
        ts = int(time.time() * 1000)
        uid = self.uid
        append = self._queue.append
        steps = self._steps
        for key, value in values.items():
            if key not in self._keys:
                self._check_key(key, "metric")
            kind = type(value)
            if kind is not float and kind is not int:
                value = coerce_metric(key, value)
            if step is None:
                s = steps.get(key, -1) + 1
            else:
                s = step
            steps[key] = s
            append(("m", uid, key, value, ts, s))

    def _check_key(self, key: str, what: str) -> None:
        check_key(key, what)
        self._keys.add(key)

    # -- params, tags, artifacts ------------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (immutable in MLflow: logging a key again with another value is refused).

        Values become strings (JSON for lists/dicts). A value longer than MLflow's 6,000
        characters is truncated and its full text logged as ``params/<key>.txt``. Objects with
        no faithful string form are refused with a hint to log them as artifacts.
        """
        clean: dict[str, str] = {}
        for key, value in params.items():
            self._check_key(key, "param")
            text = self.tracker.redactor.value(key, param_text(key, value))
            old = self.params.get(key)
            if old is not None and old != text:
                raise UsageError(
                    f"param {key!r} was already logged as {old!r} in this run; MLflow params are "
                    "immutable. Log the new value under another name, or as a metric."
                )
            if len(text) > MAX_PARAM_LENGTH:
                self.log_text(text, f"params/{key.replace('/', '_')}.txt")
                text = text[: MAX_PARAM_LENGTH - 40] + f"... [truncated, see params/{key}.txt]"
            clean[key] = text
        self.params.update(clean)
        if clean:
            self._queue.append(("ev", self.uid, "params", clean))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags on the run (redacted like params)."""
        clean = {k: str(self.tracker.redactor.value(k, v)) for k, v in tags.items()}
        for k in clean:
            self._check_key(k, "tag")
        self._queue.append(("ev", self.uid, "tags", clean))

    def set_tag_to_run(self, key: str, run_uid: str) -> None:
        """Set tag ``key`` to the MLflow id of the nbops run ``run_uid``, which may not be in
        MLflow yet: the value is filled in when the tag is shipped, once that run is."""
        self._check_key(key, "tag")
        self._queue.append(("ev", self.uid, "run_ref", {key: run_uid}))

    def log_artifact(self, obj: Any, name: str | None = None) -> str:
        """Log a file, a folder, or an object; return its artifact path.

        Objects: matplotlib figures (PNG), dict/list (JSON), pandas DataFrame (CSV), numpy
        arrays (.npy), str with ``name`` given (text), bytes (binary). Files and folders are
        shipped from where they are: keep them until the run has synced (``run.wait()``).
        """
        if isinstance(obj, str | os.PathLike) and (name is None or Path(obj).exists()):
            path = Path(obj)
            if not path.exists():
                raise UsageError(
                    f"log_artifact({str(obj)!r}): no such file or folder. Pass an existing path, "
                    "or an object (figure, dict, DataFrame, array) with a name."
                )
            artifact_path = str(Path(name).parent) if name and Path(name).parent != Path(".") \
                else None
            self._queue.append(("ev", self.uid, "artifact", {
                "path": str(path.resolve()), "artifact_path": artifact_path, "staged": False}))
            shown = f"{artifact_path}/{path.name}" if artifact_path else path.name
            self.artifacts.append(shown)
            return shown
        staged_name, writer = serializer(obj, name)
        return self._stage(staged_name, writer)

    def log_dataset(self, fp: Any, name: str, *, source: str | None = None,
                    context: str = "training") -> None:
        """Record a dataset version (a :class:`nbops.data.Fingerprint`) this run used or wrote.

        ``context`` is ``training``/``evaluation``/``input`` for data the run read — logged as
        an MLflow dataset input — and ``output`` for data it wrote (tags only: MLflow has no
        dataset outputs). Tags ``nbops.dataset.<name>.*`` carry digest, schema, rows and size.
        """
        tags = fp.to_tags(name)
        tags[f"nbops.dataset.{name}.context"] = ",".join(self.dataset_used(name, context))
        if source:
            tags[f"nbops.dataset.{name}.source"] = self.tracker.redactor.text(str(source))
        self._queue.append(("ev", self.uid, "tags", tags))
        if context != "output":
            import json

            self._queue.append(("ev", self.uid, "dataset", {
                "name": name, "digest": fp.digest[:36], "context": context,
                "source_type": "local" if source else "code",
                "source": json.dumps({"uri": str(source)} if source else {}),
                "schema": json.dumps({"columns": fp.schema}) if fp.schema else None,
                "profile": json.dumps({"rows": fp.rows, "size_bytes": fp.size_bytes}),
            }))
        self.datasets.append((name, context, fp.digest))

    def dataset_used(self, name: str, context: str) -> list[str]:
        """Note that this run used dataset ``name`` as ``context`` (in the order calls happen);
        return every context it has used it in: a file written then read back in one cell has
        the context ``output,input``, both lineage edges in order."""
        seen = self._dataset_contexts.setdefault(name, [])
        if context not in seen:
            seen.append(context)
        return seen

    def log_text(self, text: str, artifact_file: str) -> str:
        """Log ``text`` as the artifact ``artifact_file`` (e.g. ``"notes/summary.md"``)."""
        return self._stage(artifact_file, lambda p: p.write_text(text, encoding="utf-8"))

    def log_notebook_html(self, notebook_json: str, artifact_file: str) -> str:
        """Log a notebook (its JSON) rendered as an HTML page, ``artifact_file`` (``.html``).

        It is rendered with nbconvert when it is shipped, by the tracking thread or the
        background ``nbops sync``, never by the caller; a notebook that cannot be rendered is
        noted in the tag ``nbops.html_error`` instead.
        """
        if not artifact_file.endswith(".html"):
            raise UsageError(f"log_notebook_html: {artifact_file!r} must end with .html.")
        return self._stage(artifact_file, lambda p: p.write_text(notebook_json, encoding="utf-8"),
                           render="html")

    def _stage(self, artifact_file: str, writer: Callable[[Path], Any],
               render: str | None = None) -> str:
        """Write ``artifact_file`` under this run's staging folder and queue its upload; with
        ``render="html"`` the staged file is the notebook (``.ipynb``) the shipper renders."""
        artifact_file = artifact_file.strip("/")
        if ".." in Path(artifact_file).parts:
            raise UsageError(f"artifact name {artifact_file!r} must not contain '..'.")
        target = self.tracker.staging_dir(self.uid) / uuid.uuid4().hex[:8] / artifact_file
        if render:
            target = target.with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        with _not_lineage():  # nbops' own write, not a lineage event of the user's cell
            writer(target)
        parent = str(Path(artifact_file).parent)
        self._queue.append(("ev", self.uid, "artifact", {
            "path": str(target), "artifact_path": None if parent == "." else parent,
            "staged": True, **({"render": render} if render else {})}))
        self.artifacts.append(artifact_file)
        return artifact_file

    # -- end ----------------------------------------------------------------------------------
    def end(self, status: str = "FINISHED", error: BaseException | None = None) -> None:
        """End the run; idempotent. Never raises for store problems."""
        if self.ended is not None:
            return
        self.ended = time.time()
        self.status = status
        if error is not None:
            redact = self.tracker.redactor.text
            self.error = redact(f"{type(error).__name__}: {error}")
            self.set_tags({T.ERROR_TYPE: type(error).__name__,
                           T.ERROR_MESSAGE: redact(str(error))[:5000]})
            tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            self.log_text(redact(tb), "error/traceback.txt")
        self.tracker._finish(self)

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until everything this run logged is in MLflow; False on timeout."""
        logger = self.tracker.logger
        logger.drain()
        deadline = time.monotonic() + timeout
        with logger.urgent():
            while time.monotonic() < deadline:
                if logger.spool.run_backlog(self.uid) == 0 \
                        and self.uid not in logger._jobs_pending \
                        and not logger.queue and self.mlflow_run_id:
                    return True
                logger.wake()
                time.sleep(0.01)
        return False

    def require_mlflow_id(self, timeout: float = 60.0) -> str:
        """The MLflow run id, waiting (bounded) for the run to be created in the store.

        For operations that must talk to MLflow now (logging a model); raises
        :class:`StoreUnavailableError` when the store cannot be reached in ``timeout``.
        """
        logger = self.tracker.logger
        deadline = time.monotonic() + timeout
        with logger.urgent():
            return self._wait_for_mlflow_id(logger, deadline, timeout)

    def _wait_for_mlflow_id(self, logger: DurableLogger, deadline: float, timeout: float) -> str:
        while self.mlflow_run_id is None:
            if time.monotonic() >= deadline:
                raise StoreUnavailableError(
                    f"Run {self.name!r} is not in MLflow after {timeout:.0f}s "
                    f"({logger.problem or 'store slow'}). Check the tracking store, then retry; "
                    "everything logged so far stays spooled (`%nbops status`)."
                )
            logger.wake()
            time.sleep(0.01)
        return self.mlflow_run_id

    @property
    def mlflow_run_id(self) -> str | None:
        """The MLflow run id once the run exists in MLflow (None before the first sync)."""
        return self.tracker.logger.mlflow_ids.get(self.uid)

    def summary(self) -> RunSummary:
        logger = self.tracker.logger
        return RunSummary(
            name=self.name, uid=self.uid, experiment=self.experiment, status=self.status,
            started=self.started, ended=self.ended, params=dict(self.params),
            metrics=dict(logger.series.get(self.uid, {})), mlflow_run_id=self.mlflow_run_id,
            tracking_uri=self.tracker.settings.tracking_uri, error=self.error,
            artifacts=list(self.artifacts), problem=logger.problem,
            # counted only when the summary reports a problem (a query on the spool)
            backlog=logger.spool.backlog(logger.owner) if logger.problem else 0,
        )


@contextlib.contextmanager
def _not_lineage() -> Iterator[None]:
    """Suspend the data capability's file hooks on this thread, when they are installed (they
    are only once ``nbops.data.io_hooks`` was imported): tracking does not import ``data``,
    which builds on it."""
    hooks = sys.modules.get("nbops.data.io_hooks")
    with hooks.suspended() if hooks is not None else contextlib.nullcontext():
        yield
