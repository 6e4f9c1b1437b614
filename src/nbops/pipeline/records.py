"""The MLflow records of one pipeline run: the parent run, one child run per step, and what each
step run records (tags, the executed notebook and its HTML, failure reports).

Step runs are created ahead (:meth:`Records.create_ahead`), while the running steps execute, so
that a step never waits for its MLflow run id when it starts. A successful step's notebook is
logged and its run ended on a recorder thread, off the scheduling loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from nbops.pipeline.cache import CacheHit
from nbops.pipeline.executors import StepOutcome
from nbops.pipeline.report import Failure
from nbops.pipeline.spec import Pipeline, Step
from nbops.store import tags as T

__all__ = ["RECORD_TIMEOUT", "Records", "output_tags"]

#: How long a finished pipeline waits for its records to reach MLflow.
RECORD_TIMEOUT = 30.0
#: Capture parts a step run leaves out: its notebook's kernel records them in its own runs.
STEP_NO_CAPTURE = frozenset({"code", "git", "env", "notebook"})


class Records:
    """The parent run and the step runs of one pipeline run (``tracker`` writes them)."""

    def __init__(self, pipeline: Pipeline, tracker: Any, tags: Mapping[str, str],
                 lookahead: int = 1) -> None:
        self.pipeline = pipeline
        self.tracker = tracker
        self.tags = dict(tags)
        self.parent: Any = None
        self.open: dict[str, Any] = {}  # step runs still open
        self.step_runs: dict[str, Any] = {}  # every step run of this pipeline run
        self.ahead: dict[str, Any] = {}  # step runs created before their step starts
        self.lookahead = max(1, lookahead)  # at most this many at a time
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbops-record")
        self.pending: list[Future] = []

    # -- the parent run ----------------------------------------------------------------------
    def start(self, params: Mapping[str, Any]) -> None:
        """Start the pipeline's run (tag ``nbops.pipeline``; the spec as an artifact)."""
        self.parent = self.tracker.start_run(
            self.pipeline.name, experiment=self.pipeline.experiment,
            tags={T.PIPELINE: self.pipeline.name,
                  T.PIPELINE_SPEC: str(self.pipeline.path), **self.tags},
            params=params, source_name=str(self.pipeline.path))
        if self.pipeline.path.suffix in (".yaml", ".yml"):
            self.parent.log_text(self.pipeline.path.read_text(encoding="utf-8"),
                                 f"pipeline/{self.pipeline.path.name}")

    def stop(self, interrupted: bool) -> dict[str, str | None]:
        """Finish recording: wait for the recorder thread, end the step runs still open
        (``killed`` when ``interrupted``, else ``failed``) and those created ahead for steps
        that never started. Returns the MLflow ids of the open runs it ended, by step."""
        for fut in self.pending:
            fut.result()
        self.recorder.shutdown(wait=True)
        ended = {}
        for name, run in list(self.open.items()):
            run.set_tags({T.STEP_STATUS: "killed" if interrupted else "failed"})
            ended[name] = self.end_step(name, "KILLED" if interrupted else "FAILED")
        for name in list(self.ahead):
            self.drop_ahead(name, "killed" if interrupted else "skipped")
        return ended

    def close(self, summary: Mapping[str, Any], failed: list[str],
              exc: BaseException | None) -> None:
        """End the parent run with the summary (``pipeline/summary.json``) and status tags
        (``exc``: the pipeline was interrupted or broke)."""
        self.parent.log_text(json.dumps(summary, indent=2, default=str), "pipeline/summary.json")
        self.parent.set_tags({T.PIPELINE_STATUS: "failed" if failed or exc else
                              "succeeded", T.PIPELINE_FAILED_STEPS: ",".join(failed)})
        if isinstance(exc, KeyboardInterrupt):
            self.parent.end("KILLED", error=exc)
        elif exc is not None:
            self.parent.end("FAILED", error=exc)
        else:
            self.parent.end("FAILED" if failed else "FINISHED")

    def wait(self, replay_spooled: bool) -> None:
        """Wait (bounded) until the records are in MLflow; with ``replay_spooled``, also ship
        what the step kernels, now exited, left spooled (their ``%%track`` runs)."""
        deadline = time.monotonic() + RECORD_TIMEOUT
        for run in [self.parent, *self.step_runs.values()]:
            run.wait(timeout=max(0.1, deadline - time.monotonic()))
        if replay_spooled:
            from nbops.tracking.logger import replay

            replay(self.tracker.settings, timeout=max(1.0, deadline - time.monotonic()))

    # -- step runs -----------------------------------------------------------------------------
    def step_run(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> Any:
        """The step's run: the one created ahead (given its tags and params now), or a new one."""
        tags = {**self._base_tags(name), **tags}
        run = self.ahead.pop(name, None)
        if run is None:
            return self._start_step_run(name, tags, params)
        run.set_tags(tags)
        if params:
            run.log_params(params)
        return run

    def running(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> Any:
        """Open the run of a step about to execute (``tags``: its cache key and environment)."""
        run = self.open[name] = self.step_runs[name] = self.step_run(
            name, {**tags, T.STEP_STATUS: "running"}, params)
        return run

    def create_ahead(self, selected: set[str], status: Mapping[str, str]) -> None:
        """Start the runs of the steps that may start next (every dependency is running or
        done; at most ``lookahead``, one per worker), while the running steps execute: their
        MLflow run ids then exist when they start (their kernels need them). A step that is
        not run after all ends its run ahead with ``nbops.step.status=skipped``."""
        for name, step in self.pipeline.steps.items():
            if len(self.ahead) >= self.lookahead:
                return
            if name in self.ahead or name not in selected or status[name] != "pending":
                continue
            if all(d in self.open or status[d] in ("succeeded", "cached")
                   for d in step.depends_on):
                self.ahead[name] = self._start_step_run(
                    name, {**self._base_tags(name), T.STEP_STATUS: "pending"}, {})

    def drop_ahead(self, name: str, status: str) -> None:
        """End the run created ahead for ``name``, which will not run (``status`` says why)."""
        run = self.ahead.pop(name, None)
        if run is not None:
            run.set_tags({T.STEP_STATUS: status})
            run.end("KILLED")

    def end_step(self, name: str, status: str) -> str | None:
        """End an open step run; return its MLflow id (None before it reached MLflow)."""
        run = self.open.pop(name)
        run.end(status)
        return run.mlflow_run_id

    # -- what a step run records ------------------------------------------------------------------
    def succeeded(self, step: Step, outcome: StepOutcome, attempts: int,
                  digests: Mapping[str, str], then: Callable[[str | None, str], None]
                  ) -> str | None:
        """Tag the run succeeded with its outputs; its notebook is logged and the run ended on
        the recorder thread, which then calls ``then(MLflow id or None, nbops id)`` without
        waiting for MLflow. Returns the MLflow id known now (None before the run reached
        MLflow)."""
        run = self.open.pop(step.name)
        run.set_tags({T.STEP_STATUS: "succeeded", T.STEP_ATTEMPTS: attempts,
                      **output_tags(outcome.outputs),
                      **{f"nbops.output_digest.{k}": v for k, v in digests.items()}})

        def record() -> None:
            if outcome.notebook_json:
                run.log_text(outcome.notebook_json, f"notebook/{step.notebook.name}")
                self._log_html(step, run, outcome.notebook_json)
            run.end("FINISHED")
            then(run.mlflow_run_id, run.uid)

        self.pending.append(self.recorder.submit(record))
        return run.mlflow_run_id

    def attempt_failed(self, step: Step, outcome: StepOutcome, failure: Failure) -> str:
        """Record a failed attempt (tags, ``failure/report.*``, the failed notebook; under
        ``attempts/<n>/`` for a step with retries); return where to find them."""
        run = self.open[step.name]
        prefix = f"attempts/{outcome.attempt}/" if step.retries else ""
        run.set_tags(failure.tags)
        run.log_text(failure.format(step.name), f"{prefix}failure/report.txt")
        run.log_text(json.dumps(failure.to_dict(), indent=2), f"{prefix}failure/report.json")
        if outcome.notebook_json:
            run.log_text(outcome.notebook_json, f"{prefix}notebook/{step.notebook.name}")
            self._log_html(step, run, outcome.notebook_json, prefix)
        return (f"attempt {outcome.attempt}/{step.retries + 1}; the failed notebook and this "
                f"report are artifacts of MLflow run {run.mlflow_run_id} "
                f"({prefix}failure/report.txt)")

    def failed(self, name: str, attempts: int) -> str | None:
        """The step failed for good: tag and end its run; return its MLflow id."""
        self.open[name].set_tags({T.STEP_STATUS: "failed",
                                  T.STEP_ATTEMPTS: attempts})
        return self.end_step(name, "FAILED")

    def cached(self, step: Step, tags: Mapping[str, str], parameters: Mapping[str, Any],
               hit: CacheHit) -> str | None:
        """Record a cache hit as a finished step run pointing at the run it reuses (``tags``:
        its cache key and environment); return its MLflow id."""
        source = {T.CACHED_FROM: hit.run_id} if hit.run_id else {}
        run = self.step_run(step.name, {
            **tags, T.STEP_STATUS: "cached", **source, T.CACHE_REASON: hit.reason,
            **output_tags(hit.outputs)}, parameters)
        if not hit.run_id and hit.run_uid:  # filled in when that run is in MLflow
            run.set_tag_to_run(T.CACHED_FROM, hit.run_uid)
        run.end("FINISHED")
        self.step_runs[step.name] = run
        return run.mlflow_run_id

    def keep_partial(self, notebooks: Mapping[str, str]) -> None:
        """Log the notebooks of interrupted steps as far as they ran
        (``notebook/<name>.ipynb``; papermill marks the cell that was running)."""
        for name, notebook_json in notebooks.items():
            run = self.open.get(name)
            if run is not None:
                run.log_text(notebook_json, f"notebook/{self.pipeline.steps[name].notebook.name}")

    def run_ids(self) -> dict[str, str | None]:
        """The MLflow id of every step run, by step."""
        return {name: run.mlflow_run_id for name, run in self.step_runs.items()}

    # -- helpers ---------------------------------------------------------------------------------
    def _base_tags(self, name: str) -> dict[str, str]:
        return {T.PIPELINE: self.pipeline.name, T.STEP: name,
                T.NOTEBOOK_PATH: str(self.pipeline.steps[name].notebook)}

    def _start_step_run(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any]
                        ) -> Any:
        return self.tracker.start_run(
            name, experiment=self.pipeline.experiment, parent=self.parent, tags=tags,
            params=params, source_name=str(self.pipeline.steps[name].notebook),
            no_capture=STEP_NO_CAPTURE)

    def _log_html(self, step: Step, run: Any, notebook_json: str, prefix: str = "") -> None:
        """Log the notebook as an HTML page too (rendered when it is shipped, off the step's
        path)."""
        run.log_notebook_html(notebook_json, f"{prefix}notebook/{step.notebook.stem}.html")


def output_tags(outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``nbops.output.<name>`` (JSON) and, for path outputs, ``nbops.output_kind.<name>``."""
    tags = {}
    for name, rec in outputs.items():
        tags[f"nbops.output.{name}"] = json.dumps(rec["value"])
        if rec.get("kind") == "path":
            tags[f"nbops.output_kind.{name}"] = "path"
    return tags
