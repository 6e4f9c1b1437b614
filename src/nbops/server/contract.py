"""The wire contract of ``/nbops/api/``: one dataclass per JSON shape.

Every response body is ``dataclasses.asdict`` of one of these; ``labextension/src/contract.ts``
declares the same shapes as TypeScript interfaces (keep the two in step: field for field).
Times are ISO 8601 UTC strings; versions are strings, as MLflow returns them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
class MonitorStatus:
    """The ``nbops.monitor.*`` tags of one model version."""

    status: str  # ok | warning | drift | error
    version: str
    report_run_id: str | None = None
    checked_at: str | None = None


@dataclass(frozen=True)
class ModelSummary:
    """One registered model in the list (``GET models``)."""

    name: str
    description: str
    aliases: dict[str, str]  # alias -> version
    latest_version: str | None
    tags: dict[str, str]  # user tags; nbops.audit.* entries are left out
    status: MonitorStatus | None  # worst status over the aliased and latest versions
    updated_at: str | None


@dataclass(frozen=True)
class ModelPage:
    models: list[ModelSummary]
    next_page_token: str | None


@dataclass(frozen=True)
class VersionInfo:
    """One version of a model with its source run's final metrics."""

    version: str
    created_at: str | None
    source_run_id: str | None
    run_metrics: dict[str, float]
    tags: dict[str, str]
    aliases: list[str]
    status: MonitorStatus | None
    description: str
    source: str  # the model's artifact URI as MLflow stores it


@dataclass(frozen=True)
class AuditEntry:
    """One alias move, as written by ``nbops.registry`` (tag ``nbops.audit.<ms>.<hex>``)."""

    alias: str
    from_version: str | None
    to_version: str | None
    when: str
    who: str
    reason: str | None
    action: str  # set | delete | rollback | serve (a server of `nbops serve` followed a move)


@dataclass(frozen=True)
class ModelDetail:
    """``GET models/<name>``: versions newest first, audit history newest first."""

    name: str
    description: str
    aliases: dict[str, str]
    tags: dict[str, str]
    versions: list[VersionInfo]
    history: list[AuditEntry]
    #: alias -> the version "Rollback" would restore; aliases with no earlier version are absent
    rollback_targets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: str | None
    end_time: str | None
    params: dict[str, str]
    metrics: dict[str, float]  # final (latest) value of each metric
    tags: dict[str, str]  # nbops.* and mlflow.source.* tags only


@dataclass(frozen=True)
class RunPage:
    runs: list[RunSummary]
    next_page_token: str | None


@dataclass(frozen=True)
class RunComparison:
    """``GET runs/compare``: the runs side by side, keys sorted, differing params named."""

    runs: list[RunSummary]
    param_keys: list[str]
    metric_keys: list[str]
    differing_params: list[str]


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
class AliasChange:
    """Answer to a promote or rollback: where the alias points now and the audit entry."""

    name: str
    alias: str
    version: str
    previous_version: str | None
    action: str
    entry: AuditEntry | None = None


@dataclass(frozen=True)
class ErrorBody:
    """Every 4xx/503 body; ``reason`` is one of validation, not_found, conflict, store_unavailable."""

    status: int
    reason: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def to_json(obj: Any) -> Any:
    """A contract object (or list of them) as plain JSON-ready data."""
    if isinstance(obj, list):
        return [to_json(o) for o in obj]
    return asdict(obj)


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
