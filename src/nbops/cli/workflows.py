"""``nbops gate`` and ``nbops ct status``: the challenger gate and the continuous-training
history on the command line.

Exit status of ``nbops gate``: 0 promoted, passed (``--no-promote``) or a dry run that passed;
1 rejected (or a dry run that failed); 2 a usage error; 3 refused by a guard rail.
"""

from __future__ import annotations

import typer

from nbops.cli.errors import fail
from nbops.exceptions import GuardRailError, NbopsError

__all__ = ["ct_app", "gate_command", "mount"]

ct_app = typer.Typer(help="Continuous training: the gate's decisions and guard rails.",
                     no_args_is_help=True)


def gate_command(
    name: str = typer.Argument(..., help="Registered model name."),
    data: str = typer.Option(..., "--data", help="Labelled window, CSV or Parquet."),
    label_column: str = typer.Option(..., "--label-column", help="Column with the true labels."),
    criterion: list[str] = typer.Option(..., "--criterion", "-c", help="A criterion, e.g. "
                                        "'accuracy >= champion + 0.01' or, on shadow traffic, "
                                        "'shadow_agreement >= 0.9' (repeatable)."),
    challenger: str = typer.Option("challenger", help="Alias of the challenger."),
    champion: str = typer.Option("champion", help="Alias of the champion (moved on promotion)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Evaluate and record; never move "
                                 "the alias, skip cool-down and daily cap."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Evaluate and record; leave "
                                    "the alias where it is."),
    webhook: str = typer.Option(None, "--webhook", help="POST a JSON alert here on rejection."),
    task: str = typer.Option(None, "--task", help="classification or regression (default: "
                             "from the label dtype)."),
    reason: str = typer.Option(None, "--reason", help="Prefix of the promotion's audit reason."),
    cooldown: float = typer.Option(3600.0, "--cooldown", help="Seconds after a promotion "
                                   "during which the next one is refused."),
    max_per_day: int = typer.Option(3, "--max-per-day", help="Promotions allowed in 24 hours."),
) -> None:
    """Compare NAME@challenger with NAME@champion on a labelled window; promote or reject.

    Exit status: 0 promoted / passed, 1 rejected, 2 usage error, 3 refused by a guard rail.
    """
    from nbops.workflows.gate import gate  # its downloads are quiet (quiet_downloads)

    try:
        result = gate(name, challenger, champion, data=data, label_column=label_column,
                      criteria=criterion, promote=not no_promote, dry_run=dry_run,
                      reason=reason, task=task, webhook=webhook, cooldown=cooldown,
                      max_per_day=max_per_day)
    except GuardRailError as exc:
        fail(exc, 3)
    except NbopsError as exc:
        fail(exc)
    typer.echo(result.to_text())
    if not result.passed:
        raise typer.Exit(1)


@ct_app.command("status")
def status_command(
    name: str = typer.Argument(..., help="Registered model name."),
    limit: int = typer.Option(20, "--limit", help="How many decisions (newest last)."),
) -> None:
    """The continuous-training history of NAME: time, decision (a triggered retrain, or the
    gate's), versions, reason, gate run."""
    from rich.console import Console
    from rich.table import Table

    from nbops.pipeline.guard import history

    try:
        rows = history(name)[-limit:]
    except NbopsError as exc:
        fail(exc)
    if not rows:
        typer.echo(f"No gate decisions for {name!r} yet. Run `nbops gate {name} --data ... "
                   "--label-column ... --criterion ...`.")
        return
    table = Table(title=f"continuous training of {name!r}")
    for column in ("time", "decision", "challenger", "champion", "reason", "gate run"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row.get("time", "")), str(row.get("decision", "")),
                      str(row.get("challenger", "")), str(row.get("champion", "")),
                      str(row.get("reason", "")), str(row.get("run_id", "")))
    Console(width=160).print(table)


def mount(app: typer.Typer) -> None:
    """Add ``nbops gate`` and ``nbops ct`` to the ``nbops`` command line."""
    app.command("gate")(gate_command)
    app.add_typer(ct_app, name="ct")
