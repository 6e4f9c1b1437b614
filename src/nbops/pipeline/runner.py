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

import math
import statistics
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nbops.config import kernel_environment
from nbops.exceptions import PipelineError
from nbops.pipeline.cache import StepCache, output_digests
from nbops.pipeline.display import Display
from nbops.pipeline.executors import StepOutcome, StepTask, make_executor
from nbops.pipeline.plan import Plan
from nbops.pipeline.records import Records
from nbops.pipeline.report import Failure
from nbops.pipeline.results import NOT_SELECTED, PipelineResult, StepResult
from nbops.pipeline.spec import Pipeline, Step, load_pipeline, references, render
from nbops.store import tags as T

__all__ = ["Plan", "PipelineResult", "StepResult", "run_pipeline"]

#: At most this many kernels boot ahead in each worker: fewer when fewer steps are left, and
#: fewer once steps turn out to run longer than a kernel takes to boot (``KERNEL_BOOT_S``):
#: booting more at once only takes CPU from the steps running.
KERNELS_AHEAD = 3
KERNEL_BOOT_S = 0.7

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
                      lookahead=workers)
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
                    if ready and not session.records.open:
                        continue  # only cache hits: the steps after them may be ready now
                    for outcome in pool.wait(plan.retries.poll_timeout()):
                        session.finish(outcome)
                    for name in plan.retries.due(pool.free):
                        session.submit(name, pool)
            except KeyboardInterrupt:  # keep what the running steps did, then stop them
                session.keep_partial(pool.partial_notebooks())
                raise
    result = session.result()
    display.summary(result)
    return result


class Session:
    """One pipeline run under way: each step's cache check, attempts, retries and result;
    its records (:class:`~nbops.pipeline.records.Records`) and progress (``display``)."""

    def __init__(self, pipeline: Pipeline, plan: Plan, tracker: Any, display: Display, *,
                 force: bool, tags: Mapping[str, str] | None, env_digest: str | None,
                 wait_for_records: bool = True, lookahead: int = 1) -> None:
        self.pipeline = pipeline
        self.plan = plan
        self.tracker = tracker
        self.display = display
        self.force = force
        self.wait_for_records = wait_for_records
        self.lookahead = max(1, lookahead)
        self.results = {name: StepResult(name) if plan.status[name] == "pending" else
                        StepResult(name, "skipped", reason=NOT_SELECTED)
                        for name in pipeline.steps}
        self.records = Records(pipeline, tracker, tags or {}, self.lookahead)
        self.cache = StepCache(tracker.settings, pipeline.experiment, env_digest,
                               mlflow_id=tracker.mlflow_id)
        self.keys: dict[str, str] = {}
        self.resolved: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.step_times: list[float] = []  # how long each attempt ran in its worker
        self.kinds: dict[tuple[str, str], str] = {}  # (step, output) -> "value" | "path"
        self.t0 = time.monotonic()
        # what every kernel gets when it starts, before its step is known
        self.kernel_env = kernel_environment(tracker.settings, pipeline.experiment)
        selected = [s for s in pipeline.steps.values() if s.name in plan.selected]
        self.first_kernel = selected[0].kernel if selected else None

    def __enter__(self) -> Session:
        self.records.start(self.plan.params)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        for name, run_id in self.records.stop(interrupted=exc is not None).items():
            self.results[name].status = "killed" if exc else "failed"  # still running
            self.results[name].run_id = run_id
        summary = {n: {"status": r.status, "run_id": r.run_id, "reason": r.reason,
                       "attempts": r.attempts, "duration": round(r.duration, 3),
                       "outputs": r.outputs} for n, r in self.results.items()}
        self.records.close(summary, [n for n, r in self.results.items() if r.status == "failed"],
                           exc)
        if self.wait_for_records:
            # The records must be in MLflow before the result is returned (the exit flush
            # budget is for interpreter exit, not this).
            self.records.wait(replay_spooled=any(r.attempts for r in self.results.values()))
        # else: spooled; the tracker ships them (and hands the rest over at exit)

    # -- a step: cache check → submit --------------------------------------------------------
    def start(self, name: str, pool: Any) -> None:
        step = self.pipeline.steps[name]
        result = self.results[name]
        try:
            parameters, inputs = self._resolve(step)
            key = self.cache.key(step, parameters, inputs)
        except PipelineError as exc:
            self._failed_before_run(name, Failure("error", str(exc)))
            return
        self.keys[name], self.resolved[name], result.cache_key = key, parameters, key
        hit = None if (self.force and name in self.plan.selected) else \
            self.cache.lookup(step, key)
        # the environment digest is the one inside the key, and the one a run records
        tags = {T.CACHE_KEY: key, T.ENV_DIGEST: str(self.cache.env_digest)}
        if hit is not None:
            result.run_id = self.records.cached(step, tags, parameters, hit)
            result.status, result.cached_from, result.reason = "cached", hit.run_id, hit.reason
            result.outputs = {k: v["value"] for k, v in hit.outputs.items()}
            self.kinds.update({(name, k): v["kind"] for k, v in hit.outputs.items()})
            self.plan.status[name] = "cached"
            self.display.update(name, "cached", f"same inputs as run {hit.label[:8]}")
        elif name not in self.plan.selected:
            self._failed_before_run(name, Failure(
                "error", f"step {name!r} is not selected (--only/--from) and has no cached run "
                "with the same inputs to take its outputs from. Run it first, or run the whole "
                "pipeline."))
        else:
            pool.start()  # workers and kernels boot while the step run reaches MLflow
            self.records.running(name, tags, parameters)
            self.started[name] = time.monotonic()
            self.submit(name, pool)

    def submit(self, name: str, pool: Any) -> None:
        """Send the next attempt of ``name`` to the executor."""
        step = self.pipeline.steps[name]
        result = self.results[name]
        result.attempts += 1
        self.plan.status[name] = "running"
        run = self.records.open[name]
        # The step never waits for MLflow: its kernel names the step run by its nbops id (and
        # by its MLflow id when known). A kernel on this machine shares this spool and its
        # runs reach MLflow once this process has shipped the step run; one on another machine
        # (a Dask worker) finds the step run in MLflow by that id once it is shipped.
        env = kernel_environment(self.tracker.settings, self.pipeline.experiment,
                                 notebook=step.notebook, parent_uid=run.uid,
                                 parent_run_id=run.mlflow_run_id)
        pool.submit(StepTask(step=name, attempt=result.attempts,
                             notebook_json=step.notebook.read_text(encoding="utf-8"),
                             notebook_path=str(step.notebook), parameters=self.resolved[name],
                             kernel=step.kernel, timeout=step.timeout, env=env,
                             kernels_ahead=self._kernels_ahead()))
        self.display.update(name, "running", f"attempt {result.attempts}"
                            if result.attempts > 1 else "")
        self.records.create_ahead(self.plan.selected, self.plan.status)

    def _kernels_ahead(self) -> int:
        """How many kernels each worker boots for the steps after this one: one until a step
        has ended, then enough for the steps' run time to cover a kernel's boot; never more
        than the steps left."""
        left = -(-self.plan.pending_selected() // self.lookahead)
        ahead = 1
        if self.step_times:
            typical = statistics.median(self.step_times)
            ahead = max(1, min(KERNELS_AHEAD, math.ceil(KERNEL_BOOT_S / max(typical, 0.01))))
        return min(ahead, left)

    # -- an attempt ended: record → retry or done ----------------------------------------------
    def finish(self, outcome: StepOutcome) -> None:
        self.step_times.append(outcome.duration)
        name = outcome.step
        step = self.pipeline.steps[name]
        result = self.results[name]
        failure = outcome.failure
        missing = [o for o in step.outputs if o not in outcome.outputs]
        if failure is None and missing:
            failure = Failure("missing_output", f"the notebook did not record the declared "
                              f"output(s) {missing}; call nbops.output(name, value) for each, "
                              "or remove them from the step's outputs.")
        if failure is None:
            self._succeeded(step, outcome)
            return
        where = self.records.attempt_failed(step, outcome, failure)
        self.display.failure(name, failure, where)
        delay = self.plan.retries.schedule(step, result.attempts)
        if delay is not None:
            self.plan.status[name] = "retrying"
            self.display.update(name, "retrying", f"in {delay:g}s ({failure.kind})")
            return
        result.status, result.failure, result.reason = "failed", failure, failure.message[:80]
        result.duration = time.monotonic() - self.started[name]
        result.run_id = self.records.failed(name, result.attempts)
        self.display.update(name, "failed", failure.kind)
        self._skip_downstream(name)

    def keep_partial(self, notebooks: Mapping[str, str]) -> None:
        """Log the notebooks of interrupted steps as far as they ran."""
        self.records.keep_partial(notebooks)

    def _succeeded(self, step: Step, outcome: StepOutcome) -> None:
        name = step.name
        result = self.results[name]
        result.status = "succeeded"
        result.outputs = {k: v["value"] for k, v in outcome.outputs.items()}
        self.kinds.update({(name, k): v["kind"] for k, v in outcome.outputs.items()})
        result.duration = time.monotonic() - self.started[name]
        result.reason = "warm kernel" if outcome.warm_kernel else ""
        digests = output_digests(outcome.outputs)
        key = self.keys[name]
        result.run_id = self.records.succeeded(
            step, outcome, result.attempts, digests,
            then=lambda run_id, uid: self.cache.remember(key, run_id, outcome.outputs, digests,
                                                         run_uid=uid))
        self.plan.status[name] = "succeeded"
        self.display.update(name, "succeeded", f"{outcome.duration:.1f}s")

    def _failed_before_run(self, name: str, failure: Failure) -> None:
        self.records.drop_ahead(name, "failed")
        result = self.results[name]
        result.status, result.failure, result.reason = "failed", failure, failure.message
        self.display.failure(name, failure)
        self.display.update(name, "failed", failure.kind)
        self._skip_downstream(name)

    def _skip_downstream(self, name: str) -> None:
        self.plan.fail(name)
        for down in self.pipeline.downstream(name):
            self.records.drop_ahead(down, "skipped")
            r = self.results[down]
            if r.status == "pending":
                r.status, r.reason = "skipped", f"upstream step {name!r} failed"
                self.display.update(down, "skipped", r.reason)

    # -- parameters and inputs -------------------------------------------------------------------
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
            if parts[0] == "steps" and self.kinds.get((parts[1], parts[3])) == "path":
                inputs[expr] = Path(self.results[parts[1]].outputs[parts[3]])
        return parameters, inputs

    def result(self) -> PipelineResult:
        for name, run_id in self.records.run_ids().items():
            self.results[name].run_id = run_id
        parent = self.records.parent
        return PipelineResult(name=self.pipeline.name, experiment=self.pipeline.experiment,
                              run_id=parent.mlflow_run_id if parent else None,
                              steps=self.results, duration=time.monotonic() - self.t0)
