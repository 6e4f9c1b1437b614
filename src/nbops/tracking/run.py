"""Runs: ``with nbops.track(...) as run:`` and the process-wide :class:`Tracker` behind it.

A :class:`Run` validates what the user logs and puts it on the durable logger's queue; it never
waits for MLflow. Ending a run writes its events to the spool (a few ms at most) and returns;
the worker thread ships them. ``run.wait()`` or ``nbops.flush()`` wait for MLflow when a
script needs the data there before going on.

Run lifecycle and statuses::

    start ──► RUNNING ──► FINISHED   the block/cell completed
                     ├──► FAILED     an exception escaped (type, message, traceback recorded;
                     │               the exception re-raises unchanged)
                     └──► KILLED     KeyboardInterrupt (interrupting the kernel)
    a run whose process died is ended FAILED by the next process that opens the same home.
"""

from __future__ import annotations

import functools
import getpass
import numbers
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.config import CAPTURE_PARTS, Settings, load_settings
from nbops.exceptions import NoActiveRunError, StoreUnavailableError, UsageError
from nbops.tracking import capture
from nbops.tracking.logger import DurableLogger, MetricSeries
from nbops.tracking.redact import Redactor

__all__ = ["Run", "RunSummary", "Tracker", "default_tracker", "track"]

MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
MAX_KEY_LENGTH = 250
_KEY_RE = re.compile(r"^[/\w.\- :]+$")


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

    def __init__(self, tracker: Tracker, uid: str, name: str, experiment: str,
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
                value = _coerce_metric(key, value)
            if step is None:
                s = steps.get(key, -1) + 1
            else:
                s = step
            steps[key] = s
            append(("m", uid, key, value, ts, s))

    def _check_key(self, key: str, what: str) -> None:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not _KEY_RE.match(
            key
        ):
            raise UsageError(
                f"{what} name {key!r} is not valid in MLflow: use up to {MAX_KEY_LENGTH} letters, "
                "digits, and _ - . / : or spaces."
            )
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
            text = self.tracker.redactor.value(key, _param_text(key, value))
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
        staged_name, writer = _serializer(obj, name)
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

    def _stage(self, artifact_file: str, writer: Callable[[Path], Any]) -> str:
        artifact_file = artifact_file.strip("/")
        if ".." in Path(artifact_file).parts:
            raise UsageError(f"artifact name {artifact_file!r} must not contain '..'.")
        target = self.tracker.staging_dir(self.uid) / uuid.uuid4().hex[:8] / artifact_file
        target.parent.mkdir(parents=True, exist_ok=True)
        from nbops.data.io_hooks import suspended

        with suspended():  # nbops' own write, not a lineage event of the user's cell
            writer(target)
        parent = str(Path(artifact_file).parent)
        self._queue.append(("ev", self.uid, "artifact", {
            "path": str(target), "artifact_path": None if parent == "." else parent,
            "staged": True}))
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
            self.set_tags({"nbops.error.type": type(error).__name__,
                           "nbops.error.message": redact(str(error))[:5000]})
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


class Tracker:
    """Process-wide tracking state: settings, the durable logger, the stack of active runs.

    ``nbops.track`` uses :func:`default_tracker`; tests and tools may build their own.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.redactor = Redactor(self.settings.redact_deny, self.settings.redact_allow)
        self._logger: DurableLogger | None = None
        self._lock = threading.Lock()
        self.sessions: dict[str, Run] = {}
        # name -> (fingerprint, source, DataFrame or None) of the latest training datasets
        # recorded in this process: a model logged in a later cell was trained on them.
        self.training_data: dict[str, tuple[Any, str | None, Any]] = {}
        self.notice: str | None = None
        self._packages: tuple[tuple, str] | None = None

    @property
    def logger(self) -> DurableLogger:
        if self._logger is None:
            with self._lock:
                if self._logger is None:
                    from nbops.tracking.store import check_config

                    check_config(self.settings)
                    logger = DurableLogger(self.settings)
                    logger.busy = lambda: bool(_active_runs)  # capture waits for short cells
                    self.notice = logger.start()
                    import atexit

                    atexit.register(self.close)
                    self._logger = logger
        return self._logger

    @staticmethod
    def active() -> Run | None:
        """The innermost active run of this process (any tracker), or None."""
        return _active_runs[-1] if _active_runs else None

    def start_run(
        self,
        name: str | None = None,
        *,
        experiment: str | None = None,
        parent: Run | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        source: str | None = None,
        source_name: str | None = None,
        no_capture: frozenset[str] | set[str] = frozenset(),
        session: bool = False,
    ) -> Run:
        """Start a run and make it the active one. Fails fast only on unusable configuration."""
        bad = sorted(set(no_capture) - set(CAPTURE_PARTS))
        if bad:
            raise UsageError(f"unknown capture part(s) {bad}; choose from {', '.join(CAPTURE_PARTS)}.")
        logger = self.logger
        if parent is None and not session:
            parent = self.active()
        experiment = experiment or (parent.experiment if parent else None) \
            or self.settings.experiment or _default_experiment(source_name, self.settings.project_root)
        uid = uuid.uuid4().hex
        started = time.time()
        name = name or f"run-{uid[:6]}"
        run = Run(self, uid, name, experiment, parent, started)
        parent_uid = parent.uid if parent else _outer_run(logger)
        logger.submit(("run", {
            "uid": uid, "owner": logger.owner, "parent_uid": parent_uid,
            "parent_mlflow_id": None if parent_uid else os.environ.get("NBOPS_PARENT_RUN_ID"),
            "experiment": experiment, "name": name, "started": started,
            "store_uri": self.settings.tracking_uri,
        }))
        base_tags = {
            "mlflow.user": current_user(),
            "mlflow.source.type": "NOTEBOOK" if source_name and source_name.endswith(".ipynb")
            else "LOCAL",
            "mlflow.source.name": source_name or (sys.argv[0] if sys.argv else "<unknown>"),
            "nbops.version": _version(),
        }
        if session:
            base_tags["nbops.session"] = "true"
        if source is not None:
            base_tags["nbops.cell_hash"] = capture.cell_hash(source)
        base_tags.update(tags or {})
        run.set_tags(base_tags)
        if params:
            run.log_params(params)
        skip = self.settings.no_capture | set(no_capture)
        if not session:
            run.capture_modules = "git" not in skip
            logger.submit_job(uid, lambda: self._capture_start(run, source, skip))
        _active_runs.append(run)
        return run

    def discard(self, run: Run) -> None:
        """Make sure ``run`` is no longer the active run (after a failure while ending it)."""
        if run in _active_runs:
            _active_runs.remove(run)

    def _finish(self, run: Run) -> None:
        if run.capture_modules:
            # Local modules the run imported, read once it ends (the cell or block imports them
            # after the run started); after the start capture on the same thread, so the git
            # root is known.
            self.logger.submit_job(run.uid, lambda: self._capture_modules(run))
        try:
            logger = self.logger
            logger.submit(("end", run.uid, run.status, run.ended))
            logger.drain()
        finally:
            self.discard(run)

    def session_run(self, experiment: str | None, notebook: str | None) -> Run:
        """The one notebook-session run of this kernel for ``experiment`` (created on first use)."""
        experiment = experiment or self.settings.experiment or _default_experiment(notebook, self.settings.project_root)
        run = self.sessions.get(experiment)
        if run is None:
            label = Path(notebook).name if notebook else "kernel"
            run = self.start_run(f"{label} session", experiment=experiment, session=True,
                                 source_name=notebook)
            _active_runs.remove(run)  # a session run is a parent, never the active run
            self.sessions[experiment] = run
        return run

    def close(self) -> None:
        """End session runs, then flush the logger (registered at interpreter exit)."""
        for run in self.sessions.values():
            if run.ended is None:
                run.end("FINISHED")
        if self._logger is not None:
            self._logger.close()

    def staging_dir(self, uid: str) -> Path:
        return self.settings.home / "staging" / uid

    # -- capture jobs (run in the logger's worker thread) ---------------------------------------
    def _capture_start(self, run: Run, source: str | None, skip: set[str]) -> list[tuple]:
        redact = self.redactor
        tags: dict[str, str] = {}
        files: list[tuple[str, str]] = []
        if source is not None and "code" not in skip:
            files.append(("code/cell.py", redact.text(source)))
        elif source is None and "code" not in skip and sys.argv and sys.argv[0].endswith(".py"):
            script = Path(sys.argv[0])
            if script.is_file():
                files.append((f"code/{script.name}",
                              redact.text(script.read_text(encoding="utf-8", errors="replace"))))
        if "code" not in skip:
            tags["nbops.command"] = redact.text(" ".join(sys.argv))[:5000]
        if "git" not in skip:
            git = capture.git_state(Path.cwd())
            if git is not None:
                tags.update({"mlflow.source.git.commit": git.commit,
                             "mlflow.source.git.branch": git.branch,
                             "nbops.git.dirty": str(git.dirty).lower()})
                if git.remote:
                    tags["mlflow.source.git.repoURL"] = redact.text(git.remote)
                if git.diff:
                    files.append(("git/diff.patch", redact.text(git.diff)))
                run.git_root = git.root  # local modules are read at the run's end
        if "env" not in skip:
            tags.update(capture.environment_info())
            packages, digest = self._package_list()
            tags["nbops.env.digest"] = digest
            files.append(("environment/requirements.txt", packages))
            files.append(("environment/env.txt", capture.environment_variables(redact)))
        return self.artifact_events(run, tags, files)

    def _capture_modules(self, run: Run) -> list[tuple]:
        if not run.git_root:
            return []
        modules = capture.imported_module_changes(run.git_root, dict(sys.modules))
        if not modules:
            return []
        return self.artifact_events(run, {}, [("git/imported_modules.patch",
                                              self.redactor.text(modules))])

    def capture_end(self, run: Run, notebook: Path | None, inputs: list[str] | None,
                    outputs: dict[int, Any] | None, skip: set[str]) -> None:
        """Queue the end-of-cell capture: history notebook and the saved .ipynb."""
        if "notebook" in skip:
            return

        def job() -> list[tuple]:
            files: list[tuple[str, str]] = []
            if inputs is not None:
                files.append(("notebook/history.ipynb",
                              capture.history_notebook(inputs, outputs or {}, self.redactor)))
            if notebook is not None and notebook.is_file():
                text = notebook.read_text(encoding="utf-8", errors="replace")
                files.append((f"notebook/{notebook.name}", self.redactor.text(text)))
            return self.artifact_events(run, {}, files)

        self.logger.submit_job(run.uid, job)

    def artifact_events(self, run: Run, tags: dict[str, str], files: list[tuple[str, str]]
                        ) -> list[tuple]:
        """Stage text ``files`` ``[(artifact path, text)]`` of ``run`` and return the events
        that log them (and ``tags``): what a job passed to ``logger.submit_job`` returns."""
        events: list[tuple] = []
        if tags:
            events.append((run.uid, "tags", tags))
        for artifact_file, text in files:
            target = self.staging_dir(run.uid) / "capture" / artifact_file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            parent = str(Path(artifact_file).parent)
            events.append((run.uid, "artifact", {"path": str(target), "artifact_path": parent,
                                                 "staged": True}))
            run.artifacts.append(artifact_file)
        return events

    def _package_list(self) -> tuple[str, str]:
        """The installed package list and its digest, recomputed only when site dirs change."""
        import hashlib

        key = tuple(_mtime(p) for p in sys.path)
        if self._packages is None or self._packages[0] != key:
            text = capture.package_list()
            self._packages = (key, text)
        text = self._packages[1]
        return text, hashlib.sha256(text.encode()).hexdigest()[:16]


# -- process state: the active runs (innermost last) and the default tracker -----------------

_active_runs: list[Run] = []
_default: Tracker | None = None
_default_lock = threading.Lock()


def default_tracker() -> Tracker:
    """The process-wide tracker, created on first use from the settings in force."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Tracker()
    return _default


@contextmanager
def track(
    name: str | None = None,
    *,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    no_capture: frozenset[str] | set[str] = frozenset(),
    tracker: Tracker | None = None,
) -> Iterator[Run]:
    """Track a block of code as one MLflow run.

    >>> import nbops
    >>> with nbops.track("baseline", params={"lr": 0.1}) as run:   # doctest: +SKIP
    ...     for epoch in range(3):
    ...         nbops.log(loss=1 / (epoch + 1))

    The run ends FINISHED, FAILED (the exception re-raises unchanged) or KILLED
    (KeyboardInterrupt). Inside another ``track`` block, the run is its child.
    """
    __tracebackhide__ = True
    tracker = tracker or default_tracker()
    run = tracker.start_run(name, experiment=experiment, tags=tags, params=params,
                            no_capture=no_capture)
    try:
        yield run
    except KeyboardInterrupt as exc:
        run.end("KILLED", error=exc)
        raise
    except BaseException as exc:
        run.end("FAILED", error=exc)
        raise
    else:
        run.end("FINISHED")


def active_run() -> Run:
    """The innermost active run; raises :class:`NoActiveRunError` when there is none."""
    run = Tracker.active()
    if run is None:
        raise NoActiveRunError()
    return run


# -- helpers -----------------------------------------------------------------------------------


def _coerce_metric(key: str, value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    mod = type(value).__module__
    if mod.startswith("torch") and hasattr(value, "numel"):
        if value.numel() == 1:
            return value.detach()
        raise UsageError(f"metric {key!r} is a tensor of shape {tuple(value.shape)}; log a "
                         "single value (e.g. loss.mean()).")
    if mod.startswith("numpy") and getattr(value, "size", None) == 1:
        return float(value)
    raise UsageError(
        f"metric {key!r} got a {type(value).__name__} ({value!r:.60}); metrics are numbers: "
        "int, float, numpy scalars or one-element torch tensors. Log text as a tag or artifact."
    )


def _param_text(key: str, value: Any) -> str:
    if isinstance(value, str | int | float | bool | type(None) | list | tuple | dict | set):
        return capture.param_value(value)
    text = repr(value)
    if re.search(r" at 0x[0-9a-f]+>$", text):
        raise UsageError(
            f"param {key!r} is a {type(value).__name__} object with no readable value. Log a "
            "number or string instead, or the object itself with nbops.log_artifact()."
        )
    return text


def _serializer(obj: Any, name: str | None) -> tuple[str, Callable[[Path], Any]]:
    kind = type(obj)
    mod = kind.__module__
    if mod.startswith("matplotlib") and hasattr(obj, "savefig"):
        return name or "figures/figure.png", lambda p: obj.savefig(p, dpi=100)
    if isinstance(obj, dict | list):
        import json

        return name or "data.json", lambda p: p.write_text(json.dumps(obj, indent=2, default=str))
    if mod.startswith("pandas") and hasattr(obj, "to_csv"):
        return name or "table.csv", lambda p: obj.to_csv(p)
    if mod.startswith("numpy") and hasattr(obj, "tofile"):
        import numpy as np

        return name or "array.npy", lambda p: np.save(p, obj)
    if isinstance(obj, str) and name:
        return name, lambda p: p.write_text(obj, encoding="utf-8")
    if isinstance(obj, bytes):
        return name or "data.bin", lambda p: p.write_bytes(obj)
    raise UsageError(
        f"log_artifact cannot serialize a {kind.__name__}. Pass a file or folder path, a "
        "matplotlib figure, a dict or list, a pandas DataFrame, a numpy array, bytes, or a str "
        "with name=..."
    )


def _default_experiment(source_name: str | None, root: Path) -> str:
    """The notebook's name, else the project folder's name (never MLflow's 'Default', whose
    artifact folder is relative to whatever the working directory happens to be)."""
    if source_name and source_name.endswith(".ipynb"):
        return Path(source_name).stem
    return root.name or "nbops"


def _outer_run(logger: DurableLogger) -> str | None:
    """The nbops id of the run that started this process (``NBOPS_PARENT_UID``, set by
    ``nbops run`` for its step kernels), when that run is in this process's spool."""
    uid = os.environ.get("NBOPS_PARENT_UID")
    return uid if uid and logger.spool.run(uid) is not None else None


def current_user() -> str:
    """``JUPYTERHUB_USER``, else ``NBOPS_USER``, else the OS user (``mlflow.user``, audit)."""
    for var in ("JUPYTERHUB_USER", "NBOPS_USER"):
        if os.environ.get(var):
            return os.environ[var]
    return _os_user()


@functools.cache
def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _version() -> str:
    from nbops import __version__

    return __version__


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
