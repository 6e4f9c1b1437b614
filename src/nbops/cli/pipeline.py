"""Commands mounted on the ``nbops`` app: ``run``, ``schedule ...`` and ``scheduler``.

    app.command("run")(run_command)
    app.add_typer(schedule_app, name="schedule")
    app.command("scheduler")(scheduler_command)

Exit codes: 0 success; 1 a pipeline (or a step) failed; 2 a usage or spec error (the message,
on stderr, names what was wrong and what to do); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from pathlib import Path

import typer

from nbops.cli.errors import fail
from nbops.exceptions import NbopsError, UsageError

__all__ = ["parse_params", "run_command", "schedule_app", "scheduler_command"]


def parse_params(items: list[str] | None) -> dict[str, object]:
    """``["n=5", "name=a b"]`` → ``{"n": 5, "name": "a b"}`` (values read as YAML scalars)."""
    import yaml

    out: dict[str, object] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-p expects KEY=VALUE, got {item!r}. Example: -p n_rows=500")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def run_command(
    pipeline: Path = typer.Argument(..., help="The pipeline.yaml to run."),
    param: list[str] | None = typer.Option(None, "--param", "-p", metavar="KEY=VALUE",
                                           help="Override a pipeline param (repeatable)."),
    only: list[str] | None = typer.Option(None, "--only", metavar="STEP",
                                          help="Run only this step (repeatable); others must "
                                               "be cached."),
    from_step: str | None = typer.Option(None, "--from", metavar="STEP",
                                         help="Run this step and everything downstream."),
    force: bool = typer.Option(False, "--force", help="Ignore the cache."),
    workers: int = typer.Option(1, "--workers", "-w", min=1,
                                help="Local worker processes (independent steps in parallel)."),
    executor: str = typer.Option("local", "--executor", help="local or dask."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="tcp://HOST:PORT",
                                         help="Dask scheduler address (with --executor dask)."),
) -> None:
    """Run a notebook pipeline: each step a papermill run, tracked in MLflow, cached.

    Returns when the steps are done. Their records go through nbops' spool, as cells' do: what
    is not in MLflow yet then is shipped by a background `nbops sync` (`nbops status` shows
    the backlog).
    """
    from dataclasses import replace

    from nbops.config import load_settings
    from nbops.pipeline.runner import run_pipeline
    from nbops.tracking.notebook_html import skip_iri_grammar
    from nbops.tracking.run import Tracker

    skip_iri_grammar()  # this process reads notebooks (nbformat → jsonschema)
    try:
        # No exit flush: the steps' records ship in the background from this process while it
        # runs, then from a background `nbops sync` (which renders the notebooks' HTML pages
        # too), so the command returns as soon as the last step is done.
        tracker = Tracker(replace(load_settings(), flush_timeout=0.0))
        result = run_pipeline(pipeline, parse_params(param), only=only or None,
                              from_step=from_step, force=force, workers=workers,
                              executor=executor, scheduler_address=scheduler,
                              tracker=tracker, wait_for_records=False)
    except NbopsError as exc:
        fail(exc)
    except KeyboardInterrupt:
        typer.secho("interrupted: the running steps were stopped and their MLflow runs marked "
                    "KILLED (nbops.step.status=killed); finished steps keep their runs.",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(result.exit_code)


schedule_app = typer.Typer(help="Cron schedules for pipelines and notebooks (run by "
                                "`nbops scheduler`).", no_args_is_help=True)


@schedule_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="Schedule name."),
    target: Path = typer.Argument(..., help="A pipeline .yaml or a notebook .ipynb."),
    cron: str = typer.Option(..., "--cron", help="Cron expression, e.g. '0 2 * * *'."),
    param: list[str] | None = typer.Option(None, "--param", "-p", metavar="KEY=VALUE",
                                           help="Params for each run (repeatable)."),
    missed: str = typer.Option("skip", "--missed", help="After downtime: skip or catchup."),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA name, e.g. "
                                        "Europe/Paris. Default: this machine's."),
    cache: bool = typer.Option(False, "--cache", help="Serve unchanged steps from the step "
                               "cache (default: every fire executes every step)."),
    trigger: str | None = typer.Option(None, "--trigger", metavar="NAME@ALIAS",
                                       help="Run a fire time only when the monitoring status "
                                            "of this model alias calls for it."),
    status: list[str] | None = typer.Option(None, "--status", metavar="STATUS",
                                            help="With --trigger: the statuses that run it "
                                                 "(repeatable; default drift)."),
    cooldown: float | None = typer.Option(None, "--cooldown", metavar="SECONDS",
                                          help="With --trigger: no run within this long of the "
                                               "model's last retrain or promotion (default "
                                               "3600)."),
) -> None:
    """Add (or replace) a schedule."""
    from nbops.pipeline import schedule

    condition: dict[str, object] | None = None
    if trigger is not None:
        condition = {"monitor": trigger}
        if status:
            condition["status"] = list(status)
        if cooldown is not None:
            condition["cooldown"] = cooldown
    elif status or cooldown is not None:
        fail(ValueError("--status and --cooldown belong to a trigger: add --trigger "
                         "NAME@ALIAS (e.g. --trigger churn@champion --status drift)."))
    try:
        replaced = any(job.name == name for job in schedule.list_schedules())
        job = schedule.add(name, cron, target, parse_params(param), missed, timezone=timezone,
                           cache=cache, trigger=condition)
    except NbopsError as exc:
        fail(exc)
    verb = "replaced schedule" if replaced else "scheduled"
    typer.echo(f"{verb} {job.name!r}: {job.cron} ({job.timezone}) -> {job.target}; "
               f"next run {job.next_fire()}")


@schedule_app.command("list")
def list_command() -> None:
    """List schedules with their next run."""
    from rich.console import Console
    from rich.table import Table

    from nbops.pipeline import schedule

    try:
        jobs = schedule.list_schedules()
    except NbopsError as exc:
        fail(exc)
    if not jobs:
        typer.echo("no schedules; add one with `nbops schedule add NAME TARGET --cron '...'`")
        return
    table = Table()
    for col in ("name", "cron", "time zone", "target", "when", "missed", "cache", "next run"):
        table.add_column(col, overflow="fold")  # long paths wrap, never cut
    for job in jobs:
        table.add_row(job.name, job.cron, job.timezone or "", job.target, _condition(job),
                      job.missed, "on" if job.cache else "off", str(job.next_fire()))
    Console().print(table)


def _condition(job: object) -> str:
    """When a fire time runs: always, or the trigger (the schedule's own, else the pipeline's)."""
    from nbops.pipeline.spec import load_pipeline

    condition = getattr(job, "condition", None)
    if condition is None and not str(getattr(job, "target", "")).endswith(".ipynb"):
        try:
            trigger = load_pipeline(job.target, check_kernels=False).trigger  # type: ignore[attr-defined]
        except NbopsError as exc:
            return f"pipeline unreadable: {str(exc)[:60]}"
        condition = trigger and {"monitor": trigger.monitor, "status": list(trigger.status)}
    if not condition:
        return "always"
    return f"{condition['monitor']} is {'/'.join(condition['status'])}"


@schedule_app.command("remove")
def remove_command(name: str = typer.Argument(..., help="Schedule name.")) -> None:
    """Remove a schedule (its history stays)."""
    from nbops.pipeline import schedule

    try:
        schedule.remove(name)
    except NbopsError as exc:
        fail(exc)
    typer.echo(f"removed schedule {name!r}")


@schedule_app.command("history")
def history_command(
    name: str = typer.Argument(..., help="Schedule name."),
    limit: int = typer.Option(20, "--limit", "-n", help="Most recent entries to show."),
) -> None:
    """Show a schedule's runs (started, finished, failed, missed, skipped)."""
    from nbops.pipeline import schedule

    try:
        entries = schedule.history(name, limit=limit)
    except NbopsError as exc:
        fail(exc)
    if not entries:
        typer.echo(f"no history for {name!r} yet")
    for e in entries:
        typer.echo(schedule.history_line(e))


def scheduler_command(
    tick: float = typer.Option(5.0, "--tick", help="Seconds between checks."),
    stop_after: float | None = typer.Option(None, "--stop-after",
                                            help="Stop after this many seconds (default: run "
                                                 "until Ctrl-C)."),
) -> None:
    """Run due scheduled jobs in the foreground (several schedulers never run a job twice)."""
    from nbops.pipeline.schedule import run_scheduler

    typer.echo("nbops scheduler running; Ctrl-C to stop.", err=True)
    try:
        ran = run_scheduler(stop_after=stop_after, tick=tick, quiet=False)
    except NbopsError as exc:
        fail(exc)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    typer.echo(f"ran {ran} job(s)", err=True)
