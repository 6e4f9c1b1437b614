"""What :func:`~nbops.pipeline.run_pipeline` returns: one :class:`StepResult` per step inside a
:class:`PipelineResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbops.pipeline.report import Failure

__all__ = ["NOT_SELECTED", "PipelineResult", "StepResult"]

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
