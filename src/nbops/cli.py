"""The ``nbops`` command line."""

from __future__ import annotations

import sys
import time

import typer

from nbops.exceptions import NbopsError

app = typer.Typer(
    name="nbops",
    help="Notebook-native MLOps on MLflow: capture, sync and inspect tracked runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command()
def sync(
    timeout: float = typer.Option(120.0, help="Seconds to wait for the store before giving up."),
) -> None:
    """Replay spooled events of ended sessions to MLflow; running it twice is harmless."""
    from nbops.config import load_settings
    from nbops.tracking.logger import replay

    try:
        settings = load_settings()
        report = replay(settings, timeout)
    except NbopsError as exc:
        _fail(exc)
    line = f"shipped {report.shipped} event(s) to {settings.tracking_uri} in {report.seconds:.1f}s"
    if report.reaped_runs:
        line += f"; {report.reaped_runs} run(s) marked FAILED (their process had died)"
    typer.echo(line)
    if report.live_backlog:
        typer.echo(f"{report.live_backlog} event(s) belong to processes still running; they ship "
                   "them themselves (or run `%nbops sync` in that kernel).")
    if report.rejected:
        typer.echo(f"{report.rejected} event(s) were refused by MLflow as invalid; see "
                   "`nbops status`.")
    if report.left:
        typer.secho(f"{report.left} event(s) still spooled: {report.problem or 'store too slow'}. "
                    "Run `nbops sync` again when the store is reachable.",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)


@app.command()
def status() -> None:
    """Show the tracking store, the nbops home and the spool backlog."""
    from nbops.config import load_settings
    from nbops.tracking.spool import Spool

    try:
        settings = load_settings()
        spool = Spool(settings.home)
    except NbopsError as exc:
        _fail(exc)
    typer.echo(f"tracking store : {settings.tracking_uri}"
               + (" (embedded)" if settings.embedded else ""))
    typer.echo(f"nbops home     : {settings.home}")
    typer.echo(f"spool backlog  : {spool.backlog()} event(s) not yet in MLflow")
    dead = spool.dead_owners()
    if dead:
        typer.echo(f"unsynced       : {len(dead)} ended process(es) left events; run `nbops sync`")
    rejected = spool.rejected()
    if rejected:
        typer.echo(f"rejected       : {len(rejected)} event(s) MLflow refused as invalid")


def main() -> None:  # pragma: no cover - entry point
    try:
        app()
    except NbopsError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
