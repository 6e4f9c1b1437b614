"""Run a pipeline: load → plan → for each ready step: cache check → execute → record → ….

    >>> from nbops.pipeline import run_pipeline
    >>> result = run_pipeline("example_notebooks/pipeline.yaml", params={"n_rows": 500})  # doctest: +SKIP
    >>> result.ok, result.steps["train"].status                                        # doctest: +SKIP
    (True, 'succeeded')

MLflow records: one parent run for the pipeline (tag ``nbops.pipeline``), one child run per
step (tags ``nbops.pipeline``, ``nbops.step``, ``nbops.cache_key``, ``nbops.step.status`` =
succeeded | failed | cached; ``nbops.cached_from`` for a cache hit; ``nbops.output.<name>``
and, for path outputs, ``nbops.output_digest.<name>``; ``nbops.failure.*`` on failure), and the ``%%track`` runs of each step's notebook as children
of the step run. Artifacts of a step run: ``notebook/<name>.ipynb`` (the executed notebook,
or papermill's failed one) and ``notebook/<name>.html``; ``failure/report.txt`` and
``failure/report.json`` when it failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import PipelineError, UsageError, closest
from nbops.pipeline.cache import (
    CacheHit,
    CacheIndex,
    cache_key,
    environment_digest,
    find_cached,
    input_fingerprints,
    notebook_digest,
    output_digests,
)
from nbops.pipeline.display import Display
from nbops.pipeline.executors import StepOutcome, StepTask, make_executor
from nbops.pipeline.report import Failure, render_html
from nbops.pipeline.spec import Pipeline, Step, load_pipeline, references, render

__all__ = ["PipelineResult", "StepResult", "run_pipeline"]

#: How long a finished pipeline waits for its records to reach MLflow.
RECORD_TIMEOUT = 30.0
#: At most this many kernels boot ahead in each worker (fewer when fewer steps are left).
KERNELS_AHEAD = 3

DONE = ("succeeded", "cached", "failed", "skipped")
#: The reason of a step left out by ``only`` / ``from_step`` that no selected step needs.
NOT_SELECTED = "not selected (--only/--from)"


@dataclass
class StepResult:
    """How one step ended: ``succeeded``, ``cached``, ``failed`` or ``skipped`` (after an
    upstream failure, or not selected by ``only``/``from_step``: see ``reason``)."""

    name: str
    status: str = "pending"
    run_id: str | None = None
    cached_from: str | None = None
    cache_key: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    duration: float = 0.0
    reason: str = ""
    failure: Failure | None = None


@dataclass
class PipelineResult:
    """The outcome of :func:`run_pipeline`; ``exit_code`` is 0 when no step failed (every
    step succeeded, was cached, or was not selected)."""

    name: str
    experiment: str
    run_id: str | None
    steps: dict[str, StepResult]
    duration: float

    @property
    def ok(self) -> bool:
        return all(s.status in ("succeeded", "cached") or s.reason == NOT_SELECTED
                   for s in self.steps.values())

    @property
    def status(self) -> str:
        return "succeeded" if self.ok else "failed"

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def run_pipeline(
    path: str | Path | Pipeline,
    params: Mapping[str, Any] | None = None,
    only: Iterable[str] | str | None = None,
    from_step: str | None = None,
    force: bool = False,
    workers: int = 1,
    executor: str = "local",
    scheduler_address: str | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    env_digest: str | None = None,
    tracker: Any = None,
    quiet: bool = False,
    wait_for_records: bool = True,
) -> PipelineResult:
    """Run the pipeline at ``path`` (a ``pipeline.yaml`` or a loaded :class:`Pipeline`).

    ``params`` override the spec's ``params``; ``only`` runs just these steps and ``from_step``
    that step and everything downstream: their upstream steps must then be cache hits, which
    provide their outputs, and the other steps are not run (``skipped``, reason
    :data:`NOT_SELECTED`); ``force`` ignores the cache for the selected steps; ``workers`` is the number of local worker
    processes; ``executor="dask"`` with ``scheduler_address="tcp://host:port"`` runs steps on
    a Dask cluster. ``tags`` go on the pipeline run; ``env_digest`` replaces the installed
    packages digest in cache keys (e.g. a container image digest); ``tracker`` is the
    :class:`~nbops.tracking.run.Tracker` to record with (default: the process-wide one).
    ``wait_for_records=False`` returns as soon as the records are in nbops' spool (``nbops
    run`` does: the process's exit hands what is left to a background ``nbops sync``); by
    default every record is in MLflow when this returns.

    A failing step does not raise: its downstream steps are skipped and ``result.ok`` is False.
    Raises :class:`~nbops.exceptions.PipelineError` / ``UsageError`` for an invalid spec or
    arguments, before anything runs.
    """
    pipeline = path if isinstance(path, Pipeline) else load_pipeline(path)
    plan = Plan(pipeline, params, only, from_step)
    if tracker is None:
        from nbops.tracking.run import default_tracker

        tracker = default_tracker()
    display = Display(list(pipeline.steps), quiet)
    for warning in pipeline.warnings:
        display.warn(warning)
    session = Session(pipeline, plan, tracker, display, force=force, tags=tags,
                      env_digest=env_digest, wait_for_records=wait_for_records,
                      lookahead=workers, shared_spool=executor == "local")
    with display, session:
        for name, step_result in session.results.items():
            if step_result.reason == NOT_SELECTED:
                display.update(name, "skipped", "not selected")
        with make_executor(executor, workers, scheduler_address, env=session.kernel_env,
                           kernel=session.first_kernel) as pool:
            try:
                while not plan.finished:
                    ready = plan.ready(pool.free)
                    for name in ready:
                        session.start(name, pool)
                    if ready and not session.runs:
                        continue  # only cache hits: the steps after them may be ready now
                    for outcome in pool.wait(plan.poll_timeout()):
                        session.finish(outcome)
                    for name in plan.due_retries(pool.free):
                        session.submit(name, pool)
            except KeyboardInterrupt:  # keep what the running steps did, then stop them
                session.keep_partial(pool.partial_notebooks())
                raise
    result = session.result()
    display.summary(result)
    return result


class Plan:
    """Which steps can start now: the DAG state (pending → running → done), retries waiting."""

    def __init__(self, pipeline: Pipeline, params: Mapping[str, Any] | None,
                 only: Iterable[str] | str | None, from_step: str | None) -> None:
        self.pipeline = pipeline
        self.params = _resolve_params(pipeline, params)
        self.selected = _select(pipeline, only, from_step)
        needed = self.selected.union(*(pipeline.upstream(n) for n in self.selected))
        self.status = {name: "pending" if name in needed else "skipped"
                       for name in pipeline.steps}
        self.retry_at: dict[str, float] = {}

    @property
    def finished(self) -> bool:
        return all(s in DONE for s in self.status.values())

    def ready(self, free: int) -> list[str]:
        """Pending steps whose dependencies are done and good, at most ``free`` of them
        (steps that only need a cache lookup do not count)."""
        out = []
        for name, step in self.pipeline.steps.items():
            if self.status[name] != "pending":
                continue
            if all(self.status[d] in ("succeeded", "cached") for d in step.depends_on):
                if name in self.selected and len(out) >= free:
                    continue
                self.status[name] = "starting"
                out.append(name)
        return out

    def due_retries(self, free: int) -> list[str]:
        now = time.monotonic()
        due = sorted((t, n) for n, t in self.retry_at.items() if t <= now)[:free]
        for _, name in due:
            del self.retry_at[name]
        return [n for _, n in due]

    def poll_timeout(self) -> float:
        if self.retry_at:
            return max(0.0, min(0.2, min(self.retry_at.values()) - time.monotonic()))
        return 0.2

    def fail(self, name: str) -> list[str]:
        """Mark ``name`` failed; return the downstream steps now skipped."""
        self.status[name] = "failed"
        skipped = [d for d in self.pipeline.downstream(name) if self.status[d] not in DONE]
        for d in skipped:
            self.status[d] = "skipped"
        return skipped


class Session:
    """The MLflow side of one pipeline run: the parent run, step runs, cache, records."""

    def __init__(self, pipeline: Pipeline, plan: Plan, tracker: Any, display: Display, *,
                 force: bool, tags: Mapping[str, str] | None, env_digest: str | None,
                 wait_for_records: bool = True, lookahead: int = 1,
                 shared_spool: bool = False) -> None:
        self.pipeline = pipeline
        self.shared_spool = shared_spool  # the step kernels write into this process's spool
        self.plan = plan
        self.tracker = tracker
        self.display = display
        self.force = force
        self.tags = dict(tags or {})
        self.env_digest = env_digest
        self.wait_for_records = wait_for_records
        self.results = {name: StepResult(name) if plan.status[name] == "pending" else
                        StepResult(name, "skipped", reason=NOT_SELECTED)
                        for name in pipeline.steps}
        self.index = CacheIndex(tracker.settings.home)
        self.parent: Any = None
        self.runs: dict[str, Any] = {}  # step runs still open
        self.step_runs: dict[str, Any] = {}  # every step run of this pipeline run
        self.ahead: dict[str, Any] = {}  # step runs created before their step starts
        self.lookahead = max(1, lookahead)  # at most this many at a time
        self.keys: dict[str, str] = {}
        self.resolved: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.kinds: dict[tuple[str, str], str] = {}  # (step, output) -> "value" | "path"
        self.digests: dict[str, dict[str, str]] = {}  # step -> path output fingerprints
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbops-record")
        self.pending: list[Future] = []
        self._client: Any = None
        self._experiment_id: str | None = None
        self.t0 = time.monotonic()
        settings = tracker.settings
        self.kernel_env = {"NBOPS_TRACKING_URI": settings.tracking_uri,
                           "NBOPS_HOME": str(settings.home),
                           "NBOPS_EXPERIMENT": pipeline.experiment,
                           "NBOPS_PIPELINE": pipeline.name}
        selected = [s for s in pipeline.steps.values() if s.name in plan.selected]
        self.first_kernel = selected[0].kernel if selected else None

    # -- the parent run ----------------------------------------------------------------------
    def __enter__(self) -> Session:
        self.parent = self.tracker.start_run(
            self.pipeline.name, experiment=self.pipeline.experiment,
            tags={"nbops.pipeline": self.pipeline.name,
                  "nbops.pipeline.spec": str(self.pipeline.path), **self.tags},
            params=self.plan.params, source_name=str(self.pipeline.path))
        if self.pipeline.path.suffix in (".yaml", ".yml"):
            self.parent.log_text(self.pipeline.path.read_text(encoding="utf-8"),
                                 f"pipeline/{self.pipeline.path.name}")
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        for fut in self.pending:
            fut.result()
        self.recorder.shutdown(wait=True)
        for name, run in list(self.runs.items()):  # interrupted while running
            run.set_tags({"nbops.step.status": "killed" if exc else "failed"})
            self._end_step(name, run, "KILLED" if exc else "FAILED")
            self.results[name].status = "killed" if exc else "failed"
        for name in list(self.ahead):  # created ahead for steps that never started
            self._drop_ahead(name, "killed" if exc else "skipped")
        summary = {n: {"status": r.status, "run_id": r.run_id, "reason": r.reason,
                       "attempts": r.attempts, "duration": round(r.duration, 3),
                       "outputs": r.outputs} for n, r in self.results.items()}
        self.parent.log_text(json.dumps(summary, indent=2, default=str), "pipeline/summary.json")
        failed = [n for n, r in self.results.items() if r.status == "failed"]
        self.parent.set_tags({"nbops.pipeline.status": "failed" if failed or exc else
                              "succeeded", "nbops.pipeline.failed_steps": ",".join(failed)})
        if isinstance(exc, KeyboardInterrupt):
            self.parent.end("KILLED", error=exc)
        elif exc is not None:
            self.parent.end("FAILED", error=exc)
        else:
            self.parent.end("FAILED" if failed else "FINISHED")
        if not self.wait_for_records:
            return  # spooled; the tracker ships them (and hands the rest over at exit)
        # The records must be in MLflow before the result is returned (the exit flush budget
        # is for interpreter exit, not this).
        deadline = time.monotonic() + RECORD_TIMEOUT
        for run in [self.parent, *self.step_runs.values()]:
            run.wait(timeout=max(0.1, deadline - time.monotonic()))
        if any(r.attempts for r in self.results.values()):
            # The step kernels have exited; what they left spooled (their %%track runs) is
            # shipped now, so the pipeline's records are complete in MLflow when it returns.
            from nbops.tracking.logger import replay

            replay(self.tracker.settings, timeout=max(1.0, deadline - time.monotonic()))

    # -- a step: cache check → submit --------------------------------------------------------
    def start(self, name: str, pool: Any) -> None:
        step = self.pipeline.steps[name]
        result = self.results[name]
        try:
            parameters, inputs = self._resolve(step)
            key = self._key(step, parameters, inputs)
        except PipelineError as exc:
            self._failed_before_run(name, Failure("error", str(exc)))
            return
        self.keys[name], self.resolved[name], result.cache_key = key, parameters, key
        hit = None if (self.force and name in self.plan.selected) else self._lookup(step, key)
        if hit is not None:
            self._record_cached(step, key, parameters, hit)
        elif name not in self.plan.selected:
            self._failed_before_run(name, Failure(
                "error", f"step {name!r} is not selected (--only/--from) and has no cached run "
                "with the same inputs to take its outputs from. Run it first, or run the whole "
                "pipeline."))
        else:
            pool.start()  # workers and kernels boot while the step run reaches MLflow
            self.runs[name] = self._step_run(name, {"nbops.cache_key": key,
                                                    "nbops.step.status": "running"}, parameters)
            self.step_runs[name] = self.runs[name]
            self.started[name] = time.monotonic()
            self.submit(name, pool)

    def submit(self, name: str, pool: Any) -> None:
        step = self.pipeline.steps[name]
        result = self.results[name]
        result.attempts += 1
        self.plan.status[name] = "running"
        run = self.runs[name]
        if self.shared_spool and run.mlflow_run_id is None:
            # A kernel on this machine shares this spool: it names the step run by its nbops
            # id and its runs reach MLflow once this process has shipped the step run, so the
            # step starts without waiting for MLflow. Elsewhere (Dask) it needs the MLflow id.
            parent = {"NBOPS_PARENT_UID": run.uid}
        else:
            parent = {"NBOPS_PARENT_RUN_ID": run.require_mlflow_id()}
        env = {**self.kernel_env, **parent, "NBOPS_NOTEBOOK_PATH": str(step.notebook),
               "NBOPS_STEP": name}
        left = sum(1 for n in self.plan.selected if self.plan.status[n] == "pending")
        pool.submit(StepTask(step=name, attempt=result.attempts,
                             notebook_json=step.notebook.read_text(encoding="utf-8"),
                             notebook_path=str(step.notebook), parameters=self.resolved[name],
                             kernel=step.kernel, timeout=step.timeout, env=env,
                             kernels_ahead=min(KERNELS_AHEAD, -(-left // self.lookahead))))
        self.display.update(name, "running", f"attempt {result.attempts}"
                            if result.attempts > 1 else "")
        self._create_ahead()

    # -- step runs: created ahead, so that a step never waits for its MLflow run id -------------
    def _step_run(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> Any:
        """The step's run: the one created ahead (given its tags and params now), or a new one."""
        step = self.pipeline.steps[name]
        tags = {"nbops.pipeline": self.pipeline.name, "nbops.step": name,
                "nbops.notebook_path": str(step.notebook), **tags}
        run = self.ahead.pop(name, None)
        if run is None:
            return self.tracker.start_run(
                name, experiment=self.pipeline.experiment, parent=self.parent, tags=tags,
                params=params, source_name=str(step.notebook),
                no_capture={"code", "git", "env", "notebook"})
        run.set_tags(tags)
        if params:
            run.log_params(params)
        return run

    def _create_ahead(self) -> None:
        """Start the runs of the steps that may start next (every dependency is running or
        done; at most ``lookahead``, one per worker), while the running steps execute: their
        MLflow run ids then exist when they start (their kernels need them). A step that is
        not run after all ends its run ahead with ``nbops.step.status=skipped``."""
        for name, step in self.pipeline.steps.items():
            if len(self.ahead) >= self.lookahead:
                return
            if (name in self.ahead or name not in self.plan.selected
                    or self.plan.status[name] != "pending"):
                continue
            if all(d in self.runs or self.plan.status[d] in ("succeeded", "cached")
                   for d in step.depends_on):
                self.ahead[name] = self.tracker.start_run(
                    name, experiment=self.pipeline.experiment, parent=self.parent,
                    tags={"nbops.pipeline": self.pipeline.name, "nbops.step": name,
                          "nbops.step.status": "pending",
                          "nbops.notebook_path": str(step.notebook)},
                    source_name=str(step.notebook), no_capture={"code", "git", "env", "notebook"})

    def _drop_ahead(self, name: str, status: str) -> None:
        run = self.ahead.pop(name, None)
        if run is not None:
            run.set_tags({"nbops.step.status": status})
            run.end("KILLED")

    # -- an attempt ended: record → retry or done ----------------------------------------------
    def finish(self, outcome: StepOutcome) -> None:
        name = outcome.step
        step = self.pipeline.steps[name]
        result = self.results[name]
        run = self.runs[name]
        failure = outcome.failure
        missing = [o for o in step.outputs if o not in outcome.outputs]
        if failure is None and missing:
            failure = Failure("missing_output", f"the notebook did not record the declared "
                              f"output(s) {missing}; call nbops.output(name, value) for each, "
                              "or remove them from the step's outputs.")
        if failure is None:
            self._record_success(step, run, outcome)
            return
        self._record_failure(step, run, outcome, failure)
        if result.attempts <= step.retries:
            delay = step.retry_delay * 2 ** (result.attempts - 1)
            self.plan.status[name] = "retrying"
            self.plan.retry_at[name] = time.monotonic() + delay
            self.display.update(name, "retrying", f"in {delay:g}s ({failure.kind})")
            return
        result.status, result.failure, result.reason = "failed", failure, failure.message[:80]
        result.duration = time.monotonic() - self.started[name]
        run.set_tags({"nbops.step.status": "failed", "nbops.step.attempts": result.attempts})
        self._end_step(name, run, "FAILED")
        self.display.update(name, "failed", failure.kind)
        self._skip_downstream(name)

    def keep_partial(self, notebooks: Mapping[str, str]) -> None:
        """Log the notebooks of interrupted steps as far as they ran
        (``notebook/<name>.ipynb``; papermill marks the cell that was running)."""
        for name, notebook_json in notebooks.items():
            run = self.runs.get(name)
            if run is not None:
                run.log_text(notebook_json, f"notebook/{self.pipeline.steps[name].notebook.name}")

    # -- records -----------------------------------------------------------------------------
    def _record_success(self, step: Step, run: Any, outcome: StepOutcome) -> None:
        result = self.results[step.name]
        result.status, result.run_id = "succeeded", run.mlflow_run_id
        result.outputs = {k: v["value"] for k, v in outcome.outputs.items()}
        self.kinds.update({(step.name, k): v["kind"] for k, v in outcome.outputs.items()})
        result.duration = time.monotonic() - self.started[step.name]
        result.reason = "warm kernel" if outcome.warm_kernel else ""
        self.digests[step.name] = output_digests(outcome.outputs)
        run.set_tags({"nbops.step.status": "succeeded", "nbops.step.attempts": result.attempts,
                      **_output_tags(outcome.outputs),
                      **{f"nbops.output_digest.{k}": v
                         for k, v in self.digests[step.name].items()}})
        self.plan.status[step.name] = "succeeded"
        self.display.update(step.name, "succeeded", f"{outcome.duration:.1f}s")
        del self.runs[step.name]
        self.pending.append(self.recorder.submit(
            self._log_notebook_and_end, step, run, outcome, "FINISHED"))

    def _record_failure(self, step: Step, run: Any, outcome: StepOutcome,
                        failure: Failure) -> None:
        prefix = f"attempts/{outcome.attempt}/" if step.retries else ""
        run.set_tags(failure.tags)
        run.log_text(failure.format(step.name), f"{prefix}failure/report.txt")
        run.log_text(json.dumps(failure.to_dict(), indent=2), f"{prefix}failure/report.json")
        if outcome.notebook_json:
            run.log_text(outcome.notebook_json, f"{prefix}notebook/{step.notebook.name}")
            self._log_html(step, run, outcome.notebook_json, prefix)
        self.display.failure(step.name, failure,
                             f"attempt {outcome.attempt}/{step.retries + 1}; the failed notebook "
                             f"and this report are artifacts of MLflow run "
                             f"{run.mlflow_run_id} ({prefix}failure/report.txt)")

    def _record_cached(self, step: Step, key: str, parameters: dict, hit: CacheHit) -> None:
        result = self.results[step.name]
        run = self._step_run(step.name, {
            "nbops.cache_key": key, "nbops.step.status": "cached", "nbops.cached_from": hit.run_id,
            "nbops.cache_reason": hit.reason, **_output_tags(hit.outputs)}, parameters)
        run.end("FINISHED")
        self.step_runs[step.name] = run
        result.status, result.cached_from, result.reason = "cached", hit.run_id, hit.reason
        result.outputs = {k: v["value"] for k, v in hit.outputs.items()}
        self.kinds.update({(step.name, k): v["kind"] for k, v in hit.outputs.items()})
        result.run_id = run.mlflow_run_id
        self.plan.status[step.name] = "cached"
        self.display.update(step.name, "cached", f"same inputs as run {hit.run_id[:8]}")

    def _failed_before_run(self, name: str, failure: Failure) -> None:
        self._drop_ahead(name, "failed")
        result = self.results[name]
        result.status, result.failure, result.reason = "failed", failure, failure.message
        self.display.failure(name, failure)
        self.display.update(name, "failed", failure.kind)
        self._skip_downstream(name)

    def _skip_downstream(self, name: str) -> None:
        self.plan.fail(name)
        for down in self.pipeline.downstream(name):
            self._drop_ahead(down, "skipped")
            r = self.results[down]
            if r.status == "pending":
                r.status, r.reason = "skipped", f"upstream step {name!r} failed"
                self.display.update(down, "skipped", r.reason)

    def _log_notebook_and_end(self, step: Step, run: Any, outcome: StepOutcome,
                              status: str) -> None:
        if outcome.notebook_json:
            run.log_text(outcome.notebook_json, f"notebook/{step.notebook.name}")
            self._log_html(step, run, outcome.notebook_json)
        run.end(status)
        mlflow_id = run.require_mlflow_id()
        if status == "FINISHED":
            self.index.put(self.keys[step.name], mlflow_id, experiment=self.pipeline.experiment,
                           tracking_uri=self.tracker.settings.tracking_uri,
                           outputs=outcome.outputs, digests=self.digests[step.name])

    def _log_html(self, step: Step, run: Any, notebook_json: str, prefix: str = "") -> None:
        """Log the notebook rendered as HTML; the tracking worker renders it, off the step's
        path."""
        def html() -> list[tuple]:
            try:
                page = render_html(notebook_json)
            except Exception as exc:  # noqa: BLE001 - a rendering problem never fails a step
                return [(run.uid, "tags", {"nbops.html_error":
                                           f"{type(exc).__name__}: {exc}"[:500]})]
            return self.tracker.artifact_events(
                run, {}, [(f"{prefix}notebook/{step.notebook.stem}.html", page)])

        self.tracker.logger.submit_job(run.uid, html)

    def _end_step(self, name: str, run: Any, status: str) -> None:
        self.runs.pop(name, None)
        run.end(status)
        self.results[name].run_id = run.mlflow_run_id

    # -- cache -------------------------------------------------------------------------------
    def _resolve(self, step: Step) -> tuple[dict[str, Any], dict[str, Path]]:
        outputs = {n: {"outputs": r.outputs} for n, r in self.results.items()}
        context = {"params": self.plan.params, "steps": outputs}
        parameters = render(step.parameters, context)
        inputs: dict[str, Path] = {}
        for raw in step.inputs:
            value = render(raw, context)
            p = Path(str(value))
            inputs[raw] = p if p.is_absolute() else self.pipeline.root / p
        for expr in set(references(step.parameters)):
            parts = expr.split(".")
            if parts[0] == "steps" and self._output_kind(parts[1], parts[3]) == "path":
                inputs[expr] = Path(self.results[parts[1]].outputs[parts[3]])
        return parameters, inputs

    def _output_kind(self, step: str, name: str) -> str:
        return self.kinds.get((step, name), "value")

    def _key(self, step: Step, parameters: dict, inputs: dict[str, Path]) -> str:
        nb = json.loads(step.notebook.read_text(encoding="utf-8"))
        if self.env_digest is None:
            self.env_digest = environment_digest(self.tracker.settings.home)
        return cache_key(notebook_digest(nb), parameters, input_fingerprints(inputs),
                         self.env_digest, step.kernel)

    def _lookup(self, step: Step, key: str) -> CacheHit | None:
        """This project's cache index answers (no MLflow); a key it never saw is looked up in
        MLflow (runs of other machines on a shared store, or of an older nbops)."""
        if self.index.knows(key, self.pipeline.experiment, self.tracker.settings.tracking_uri):
            return self.index.hit(key, step.outputs)
        if self._experiment_id is None:  # no experiment yet: no earlier run to reuse
            from mlflow import MlflowClient

            from nbops.tracking.embedded import ensure_store

            ensure_store(self.tracker.settings.tracking_uri)
            self._client = MlflowClient(self.tracker.settings.tracking_uri)
            exp = self._client.get_experiment_by_name(self.pipeline.experiment)
            self._experiment_id = exp.experiment_id if exp else ""
        if not self._experiment_id:
            return None
        hit = find_cached(self._client, self._experiment_id, key, step.outputs, self.index)
        if hit is not None:  # the next lookup of this key needs no MLflow
            self.index.put(key, hit.run_id, experiment=self.pipeline.experiment,
                           tracking_uri=self.tracker.settings.tracking_uri,
                           outputs=hit.outputs, digests=output_digests(hit.outputs))
        return hit

    def result(self) -> PipelineResult:
        for name, run in self.step_runs.items():
            self.results[name].run_id = run.mlflow_run_id
        return PipelineResult(name=self.pipeline.name, experiment=self.pipeline.experiment,
                              run_id=self.parent.mlflow_run_id if self.parent else None,
                              steps=self.results, duration=time.monotonic() - self.t0)


def _output_tags(outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    tags = {}
    for name, rec in outputs.items():
        tags[f"nbops.output.{name}"] = json.dumps(rec["value"])
        if rec.get("kind") == "path":
            tags[f"nbops.output_kind.{name}"] = "path"
    return tags


def _resolve_params(pipeline: Pipeline, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    params = dict(pipeline.params)
    for key, value in (overrides or {}).items():
        if key not in params:
            raise UsageError(f"unknown pipeline param {key!r}.{closest(key, params)} "
                             f"{pipeline.path.name} declares: {', '.join(params) or 'none'} "
                             "(under `params:`).")
        params[key] = value
    return params


def _select(pipeline: Pipeline, only: Iterable[str] | str | None,
            from_step: str | None) -> set[str]:
    names = list(pipeline.steps)
    for n in ([only] if isinstance(only, str) else list(only or [])) + \
            ([from_step] if from_step else []):
        if n not in pipeline.steps:
            raise UsageError(f"unknown step {n!r}.{closest(n, names)} Steps: {', '.join(names)}.")
    if only:
        selected = {only} if isinstance(only, str) else set(only)
        if from_step:
            raise UsageError("use either --only or --from, not both.")
        return selected
    if from_step:
        return {from_step, *pipeline.downstream(from_step)}
    return set(names)
