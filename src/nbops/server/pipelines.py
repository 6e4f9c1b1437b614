"""What the Pipelines panel reads and starts: the pipeline specs under the Jupyter root, their
schedules and recent runs, and "Run now" as an ``nbops run`` process.

Read-only over the pipeline code: specs are loaded with :func:`nbops.pipeline.spec.load_pipeline`,
schedules come from :mod:`nbops.pipeline.schedule`, runs are the MLflow records the runner writes
(a parent run tagged ``nbops.pipeline.spec`` and one child run per step). "Run now" starts the
same command a user would type, ``nbops run <spec> -p KEY=VALUE``, as a child process of the
Jupyter server; its output goes to ``.nbops/ui-runs/``.

Example:
    >>> svc = PipelineService(Path("."), open_store())                 # doctest: +SKIP
    >>> [p.name for p in svc.list_pipelines().pipelines]          # doctest: +SKIP
    ['demo']
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbops.exceptions import NbopsError, NotFoundError, UsageError, closest
from nbops.server.contract import (
    PipelineInfo,
    PipelineList,
    PipelineRun,
    PipelineStep,
    RunStarted,
    ScheduleInfo,
    StepRun,
)
from nbops.store import Store
from nbops.store import tags as T

__all__ = ["MAX_SPECS", "PipelineService", "find_specs"]

MAX_SPECS = 100
RECENT_RUNS = 5
_SKIP = {"node_modules", "__pycache__", "site-packages", "venv", "env", "build", "dist"}
_MAX_DEPTH = 4


def find_specs(root: Path) -> list[Path]:
    """``pipeline.yaml`` / ``pipeline.yml`` / ``*.pipeline.yaml`` files under ``root`` (4 levels,
    hidden folders and virtual environments left out), sorted by path."""
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> Iterator[Path]:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.name in _SKIP:
                continue
            if entry.is_dir() and depth < _MAX_DEPTH:
                yield from walk(entry, depth + 1)
            elif entry.is_file() and (entry.name in ("pipeline.yaml", "pipeline.yml")
                                      or entry.name.endswith((".pipeline.yaml", ".pipeline.yml"))):
                yield entry

    for spec in walk(root, 0):
        found.append(spec)
        if len(found) >= MAX_SPECS:
            break
    return found


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _iso_ms(ms: int | None) -> str | None:
    return None if ms is None else _iso(ms / 1000)


class PipelineService:
    """Pipelines under ``root`` and their MLflow runs, read from ``store``."""

    def __init__(self, root: Path, store: Store) -> None:
        self.root = root.resolve()
        self.store = store

    # -- reads --------------------------------------------------------------------------------
    def list_pipelines(self) -> PipelineList:
        """Every spec found under the root, with its steps, schedules and recent runs."""
        return PipelineList(pipelines=[self._info(spec) for spec in find_specs(self.root)])

    def _info(self, spec: Path) -> PipelineInfo:
        from nbops.pipeline.spec import load_pipeline

        rel = spec.relative_to(self.root).as_posix()
        try:
            pipeline = load_pipeline(spec, check_kernels=False)
        except NbopsError as exc:
            return PipelineInfo(path=rel, name=spec.parent.name, experiment="", steps=[],
                                schedules=[], runs=[], error=str(exc))
        steps = [PipelineStep(name=s.name, notebook=_relative(s.notebook, spec.parent),
                              depends_on=list(s.depends_on)) for s in pipeline.steps.values()]
        return PipelineInfo(path=rel, name=pipeline.name, experiment=pipeline.experiment,
                            steps=steps, schedules=self._schedules(spec),
                            runs=self._runs(pipeline.experiment, spec),
                            params=dict(pipeline.params))

    def _schedules(self, spec: Path) -> list[ScheduleInfo]:
        from nbops.config import load_settings
        from nbops.pipeline import schedule

        settings = load_settings(self.root)
        out = []
        for s in schedule.list_schedules(settings=settings):
            if Path(s.target).resolve() != spec.resolve():
                continue
            events = [e for e in schedule.history(s.name, settings=settings)
                      if e.get("event") in ("started", "finished", "failed", "missed")]
            last = events[-1] if events else None
            nxt = s.next_fire()
            out.append(ScheduleInfo(
                name=s.name, cron=s.cron, timezone=s.timezone,
                next_run=nxt.astimezone(UTC).isoformat(timespec="seconds") if nxt else None,
                last_run=_iso(last["at"]) if last and isinstance(last.get("at"), int | float)
                else None,
                last_event=str(last["event"]) if last else None))
        return out

    def _runs(self, experiment: str, spec: Path) -> list[PipelineRun]:
        from nbops.registry.resolve import quote

        exp = self.store.experiment(experiment)
        if exp is None:
            return []
        parents = self.store.runs(  # the RECENT_RUNS newest runs of the pipeline
            [exp.experiment_id], f"tags.`{T.PIPELINE_SPEC}` = {quote(str(spec))}",
            order_by=["attributes.start_time DESC"], limit=RECENT_RUNS)
        if not parents:
            return []
        children = [child for p in parents for child in self.store.runs(
            [exp.experiment_id], f"tags.`{T.PARENT_RUN}` = {quote(p.info.run_id)}")]
        # MLflow's filter has no IN for tags: one query per run
        steps: dict[str, list[StepRun]] = {}
        for child in sorted(children, key=lambda r: r.info.start_time or 0):
            tags = child.data.tags
            if T.STEP not in tags:
                continue
            steps.setdefault(tags[T.PARENT_RUN], []).append(StepRun(
                name=tags[T.STEP], status=tags.get(T.STEP_STATUS, "running"),
                run_id=child.info.run_id, failure=_failure(tags)))
        return [PipelineRun(
            run_id=p.info.run_id,
            status=p.data.tags.get(T.PIPELINE_STATUS)
            or {"RUNNING": "running", "FINISHED": "succeeded"}.get(p.info.status, "failed"),
            start_time=_iso_ms(p.info.start_time), end_time=_iso_ms(p.info.end_time),
            steps=steps.get(p.info.run_id, []), params=dict(p.data.params or {}))
            for p in parents]

    # -- run now ------------------------------------------------------------------------------
    def run_now(self, path: str, params: Mapping[str, Any] | None = None) -> RunStarted:
        """Start ``nbops run <path> -p KEY=VALUE …`` for a spec found under the root."""
        specs = {s.relative_to(self.root).as_posix(): s for s in find_specs(self.root)}
        if path not in specs:
            raise NotFoundError(f"No pipeline spec {path!r} under the Jupyter root."
                                f"{closest(path, specs)} Known: {', '.join(specs) or 'none'}.")
        params = dict(params or {})
        for key in params:
            if not key.isidentifier():
                raise UsageError(f"pipeline parameter name {key!r} is not valid: use a Python "
                                 "identifier, e.g. n_rows.")
        args = [sys.executable, "-m", "nbops", "run", str(specs[path])]
        for key, value in sorted(params.items()):
            args += ["-p", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        from nbops.config import load_settings

        logs = load_settings(self.root).home / "ui-runs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{Path(path).parent.name or 'pipeline'}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(args, cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=dict(os.environ),
                                    start_new_session=True)
        _reap(proc)
        return RunStarted(path=path, pid=proc.pid, log=_relative(log, self.root))


def _reap(proc: subprocess.Popen) -> None:
    """Collect the exit status in the background so that no zombie is left."""
    import threading

    threading.Thread(target=proc.wait, name="nbops-run-reaper", daemon=True).start()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _failure(tags: Mapping[str, str]) -> str | None:
    message = tags.get(T.FAILURE_MESSAGE)
    if not message:
        return None
    cell = tags.get(T.FAILURE_CELL_INDEX)
    return f"{message} (cell {int(cell) + 1})" if cell and cell.isdigit() else message
