"""Notebook pipelines: a ``pipeline.yaml`` DAG of papermill steps, cached, tracked in MLflow.

    >>> from nbops.pipeline import load_pipeline, run_pipeline
    >>> result = run_pipeline("pipeline.yaml", params={"n_rows": 500}, workers=2)  # doctest: +SKIP

Modules, one concern each: :mod:`~nbops.pipeline.spec` (YAML → validated DAG),
:mod:`~nbops.pipeline.runner` (the orchestrator), :mod:`~nbops.pipeline.plan` (selection,
parameters, the state of each step), :mod:`~nbops.pipeline.retries`,
:mod:`~nbops.pipeline.records` (the parent and step runs and what they record),
:mod:`~nbops.pipeline.results`, :mod:`~nbops.pipeline.cache` (cache keys and lookups),
:mod:`~nbops.pipeline.executors` (local worker processes, Dask), :mod:`~nbops.pipeline.kernels`
(warm kernels), :mod:`~nbops.pipeline.outputs` (``nbops.output``),
:mod:`~nbops.pipeline.report` (failure reports, HTML), :mod:`~nbops.pipeline.display`
(terminal), :mod:`~nbops.pipeline.schedule` (cron schedules), :mod:`~nbops.pipeline.trigger`
(a schedule's retrain, when monitoring says so), :mod:`~nbops.pipeline.guard`
(continuous-training guard rails and history); the commands are in :mod:`nbops.cli.pipeline`.
Importing this package imports none of papermill,
mlflow, dask or APScheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbops.pipeline.outputs import output

if TYPE_CHECKING:
    from nbops.pipeline.runner import PipelineResult, StepResult, run_pipeline
    from nbops.pipeline.spec import Pipeline, Step, load_pipeline

__all__ = [
    "Pipeline",
    "PipelineResult",
    "Step",
    "StepResult",
    "load_pipeline",
    "output",
    "run_pipeline",
]

_LAZY = {"Pipeline": "spec", "Step": "spec", "load_pipeline": "spec",
         "PipelineResult": "runner", "StepResult": "runner", "run_pipeline": "runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"nbops.pipeline.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nbops.pipeline' has no attribute {name!r}")
