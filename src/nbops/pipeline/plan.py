"""The plan of a pipeline run: which steps run (``only`` / ``from_step``), with which params, and
which can start now (the DAG state: pending → starting → running → done)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nbops.exceptions import UsageError, closest
from nbops.pipeline.retries import Retries
from nbops.pipeline.spec import Pipeline

__all__ = ["DONE", "Plan"]

DONE = ("succeeded", "cached", "failed", "skipped")


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
        self.retries = Retries()

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

    def pending_selected(self) -> int:
        """How many selected steps have not started yet."""
        return sum(1 for n in self.selected if self.status[n] == "pending")

    def fail(self, name: str) -> list[str]:
        """Mark ``name`` failed; return the downstream steps now skipped."""
        self.status[name] = "failed"
        skipped = [d for d in self.pipeline.downstream(name) if self.status[d] not in DONE]
        for d in skipped:
            self.status[d] = "skipped"
        return skipped


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
