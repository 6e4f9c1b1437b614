"""The wire contract of ``/nbops/api/``: one dataclass per JSON shape, all listed in ``__all__``.

Every response body is ``dataclasses.asdict`` of one of these. The registry's shapes are those
:class:`nbops.registry.service.RegistryService` returns (the notebook widgets read the same
objects); the rest are defined here. ``labextension/src/contract.ts`` declares the same shapes
as TypeScript interfaces, field for field: ``tests/server/test_server_contract.py`` fails naming
any field that differs. Times are ISO 8601 UTC strings; versions are strings, as MLflow returns
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbops.registry.service import (
    AliasChange,
    AuditEntry,
    ModelDetail,
    ModelPage,
    ModelSummary,
    MonitorStatus,
    RunComparison,
    RunPage,
    RunSummary,
    VersionInfo,
    to_json,
)

__all__ = [
    "AliasChange",
    "AuditEntry",
    "ErrorBody",
    "GateReport",
    "ModelDetail",
    "ModelPage",
    "ModelSummary",
    "MonitorStatus",
    "NotebookSnapshot",
    "PipelineInfo",
    "PipelineList",
    "PipelineRun",
    "PipelineStep",
    "RunComparison",
    "RunPage",
    "RunStarted",
    "RunSummary",
    "ScheduleInfo",
    "StepRun",
    "VersionInfo",
    "to_json",
]


@dataclass(frozen=True)
class NotebookSnapshot:
    """``GET runs/<id>/notebook``: the executed snapshot notebook of a run (nbformat 4 JSON)."""

    run_id: str
    path: str  # artifact path, e.g. notebook/history.ipynb
    notebook: dict[str, Any]


@dataclass(frozen=True)
class GateReport:
    """``GET runs/<id>/gate-report``: the HTML report a gate run logged (``nbops.gate``)."""

    run_id: str
    path: str  # artifact path: gate/report.html
    html: str  # a self-contained page: inline styles, no scripts


@dataclass(frozen=True)
class ErrorBody:
    """Every 4xx/503 body; ``reason`` is one of validation, forbidden, not_found, conflict,
    store_unavailable."""

    status: int
    reason: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


# -- pipelines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineStep:
    """One step of a pipeline spec."""

    name: str
    notebook: str  # relative to the spec's folder
    depends_on: list[str]


@dataclass(frozen=True)
class ScheduleInfo:
    """A cron schedule of the pipeline (``nbops schedule``), with its last and next run."""

    name: str
    cron: str
    timezone: str | None
    next_run: str | None
    last_run: str | None
    last_event: str | None  # started | finished | failed | missed


@dataclass(frozen=True)
class StepRun:
    """How one step of a pipeline run went (its MLflow child run)."""

    name: str
    status: str  # running | succeeded | cached | failed | killed
    run_id: str
    failure: str | None  # "ZeroDivisionError: division by zero (cell 3)" for a failed step


@dataclass(frozen=True)
class PipelineRun:
    """One run of a pipeline: the MLflow parent run and its steps."""

    run_id: str
    status: str  # running | succeeded | failed (nbops.pipeline.status, else MLflow's status)
    start_time: str | None
    end_time: str | None
    steps: list[StepRun]
    params: dict[str, str] = field(default_factory=dict)  # the pipeline params of this run


@dataclass(frozen=True)
class PipelineInfo:
    """``GET pipelines``: one pipeline spec found under the server's root."""

    path: str  # relative to the Jupyter root
    name: str
    experiment: str
    steps: list[PipelineStep]
    schedules: list[ScheduleInfo]
    runs: list[PipelineRun]  # newest first
    error: str | None = None  # the spec does not load: why
    params: dict[str, Any] = field(default_factory=dict)  # the spec's default params


@dataclass(frozen=True)
class PipelineList:
    pipelines: list[PipelineInfo]


@dataclass(frozen=True)
class RunStarted:
    """``POST pipelines/run``: the ``nbops run`` process started for the pipeline."""

    path: str
    pid: int
    log: str  # where the process writes its output, relative to the Jupyter root
