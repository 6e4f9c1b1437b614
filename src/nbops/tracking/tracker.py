"""The :class:`Tracker`: process-wide tracking state behind ``nbops.track``.

It holds the settings, the redactor, the durable logger (started on first use) and the stack of
active runs; it starts runs, queueing their capture jobs (:mod:`nbops.tracking.capture_jobs`),
and ends them.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbops.config import CAPTURE_PARTS, Settings, kernel_context, load_settings
from nbops.exceptions import UsageError
from nbops.store import tags as T
from nbops.tracking import capture, capture_jobs
from nbops.tracking.handle import Run
from nbops.tracking.identity import current_user, default_experiment, nbops_version
from nbops.tracking.logger import DurableLogger
from nbops.tracking.redact import Redactor

__all__ = ["Tracker"]

#: The active runs of this process, innermost last (any tracker).
_active_runs: list[Run] = []


class Tracker:
    """Process-wide tracking state: settings, the durable logger, the stack of active runs.

    ``nbops.track`` uses :func:`nbops.tracking.run.default_tracker`; tests and tools may build
    their own.
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

    @property
    def logger(self) -> DurableLogger:
        if self._logger is None:
            with self._lock:
                if self._logger is None:
                    from nbops.store.check import check_config

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
            or self.settings.experiment \
            or default_experiment(source_name, self.settings.project_root)
        uid = uuid.uuid4().hex
        started = time.time()
        name = name or f"run-{uid[:6]}"
        run = Run(self, uid, name, experiment, parent, started)
        outer = kernel_context() if parent is None else None  # the run that started us
        logger.submit(("run", {
            "uid": uid, "owner": logger.owner,
            "parent_uid": parent.uid if parent else outer.parent_uid,
            "parent_mlflow_id": outer.parent_run_id if outer else None,
            "experiment": experiment, "name": name, "started": started,
            "store_uri": self.settings.tracking_uri,
        }))
        base_tags = {
            T.USER: current_user(),
            T.SOURCE_TYPE: "NOTEBOOK" if source_name and source_name.endswith(".ipynb")
            else "LOCAL",
            T.SOURCE_NAME: source_name or (sys.argv[0] if sys.argv else "<unknown>"),
            T.VERSION: nbops_version(),
        }
        if session:
            base_tags[T.SESSION] = "true"
        if source is not None:
            base_tags[T.CELL_HASH] = capture.cell_hash(source)
        base_tags.update(tags or {})
        run.set_tags(base_tags)
        if params:
            run.log_params(params)
        skip = self.settings.no_capture | set(no_capture)
        if not session:
            run.capture_modules = "git" not in skip
            logger.submit_job(uid, lambda: capture_jobs.start_of_run(
                run, source, skip, self.redactor, self.staging_dir(uid), self.settings.home))
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
            self.logger.submit_job(run.uid, lambda: capture_jobs.imported_modules(
                run, self.redactor, self.staging_dir(run.uid)))
        try:
            logger = self.logger
            logger.submit(("end", run.uid, run.status, run.ended))
            logger.drain()
        finally:
            self.discard(run)

    def session_run(self, experiment: str | None, notebook: str | None) -> Run:
        """The one notebook-session run of this kernel for ``experiment`` (created on first use)."""
        experiment = experiment or self.settings.experiment or default_experiment(
            notebook, self.settings.project_root)
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

    def mlflow_id(self, uid: str) -> str | None:
        """The MLflow id of the nbops run ``uid`` once it is in MLflow (created by this process
        or another one of this project: the spool records it); None before."""
        logger = self.logger
        if uid in logger.mlflow_ids:
            return logger.mlflow_ids[uid]
        rec = logger.spool.run(uid)
        return rec.mlflow_id if rec else None

    def staging_dir(self, uid: str) -> Path:
        return self.settings.home / "staging" / uid

    # -- capture jobs (run in the logger's worker thread) ---------------------------------------
    def capture_end(self, run: Run, notebook: Path | None, inputs: list[str] | None,
                    outputs: dict[int, Any] | None, skip: set[str]) -> None:
        """Queue the end-of-cell capture: history notebook and the saved .ipynb."""
        if "notebook" in skip:
            return
        self.logger.submit_job(run.uid, lambda: capture_jobs.end_of_cell(
            run, notebook, inputs, outputs, self.redactor, self.staging_dir(run.uid)))
