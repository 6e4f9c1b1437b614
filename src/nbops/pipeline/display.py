"""Terminal display of a pipeline run: live progress (rich), failure reports, a summary table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.pipeline.report import Failure
    from nbops.pipeline.results import PipelineResult

__all__ = ["Display"]

_STYLE = {"succeeded": "green", "cached": "cyan", "failed": "red", "skipped": "yellow",
          "running": "blue", "retrying": "magenta", "pending": "dim"}


class Display:
    """Live progress while running (stderr) and a summary at the end (stdout); ``quiet`` mutes."""

    def __init__(self, steps: list[str], quiet: bool = False) -> None:
        self.quiet = quiet
        self._rows: dict[str, Any] = {}
        self._progress = None
        if quiet:
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.err = Console(stderr=True)
        self.out = Console()
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.fields[step]:<20}"),
                                  TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=self.err, transient=False)
        for name in steps:
            self._rows[name] = self._progress.add_task("[dim]pending", step=name, total=1,
                                                       start=False)

    def __enter__(self) -> Display:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, step: str, status: str, detail: str = "") -> None:
        if self._progress is None:
            return
        style = _STYLE.get(status, "white")
        row = self._rows[step]
        if status in ("running", "cached", "failed", "skipped"):
            self._progress.start_task(row)
        done = status in ("succeeded", "cached", "failed", "skipped")
        self._progress.update(row, description=f"[{style}]{status}[/] {detail}".rstrip(),
                              completed=1 if done else 0)
        if done:
            self._progress.stop_task(row)

    def failure(self, step: str, failure: Failure, where: str = "") -> None:
        """Print a failure report (failing cell, source, traceback) above the progress rows."""
        if self._progress is None:
            return
        from rich.panel import Panel
        from rich.text import Text

        text = Text(failure.format(step))
        if where:
            text.append(f"\n{where}", style="dim")
        self._progress.console.print(Panel(text, title=f"[red]{step} failed", expand=False))

    def warn(self, message: str) -> None:
        if self._progress is not None:
            self.err.print(f"[yellow]warning:[/] {message}", highlight=False)

    def summary(self, result: PipelineResult) -> None:
        if self.quiet:
            return
        from rich.table import Table

        table = Table(title=f"pipeline {result.name} — {result.status}", title_justify="left")
        for col in ("step", "status", "time", "attempts", "MLflow run", "note"):
            table.add_column(col)
        for step in result.steps.values():
            style = _STYLE.get(step.status, "white")
            table.add_row(step.name, f"[{style}]{step.status}[/]",
                          f"{step.duration:.1f}s" if step.duration else "",
                          str(step.attempts or ""), (step.run_id or "")[:12],
                          f"same inputs as run {step.cached_from[:12]}" if step.cached_from
                          else step.reason)
        self.out.print(table)
        if result.run_id:
            self.out.print(f"pipeline run: {result.run_id} (experiment {result.experiment!r})",
                           highlight=False)
        else:
            self.out.print(f"pipeline run: being written to MLflow in the background "
                           f"(experiment {result.experiment!r}; `nbops status` shows the "
                           "backlog)", highlight=False)
