"""``nbops monitor MODEL``: check current data, or a window of the request log, against a model
version: drift, quality, performance when labels exist, status tag, alert."""

from __future__ import annotations

import typer

from nbops.exceptions import NbopsError

__all__ = ["monitor_command"]


def monitor_command(
    model: str = typer.Argument(..., help="Model version: name@alias, name/3 or models:/..."),
    current: str = typer.Option(None, "--current", help="Current data (CSV or Parquet)."),
    window: str = typer.Option(None, "--window", help="Instead of --current: what `nbops serve` "
                               "answered in this window, e.g. 1h, 30m, 7d (its request log, "
                               "with the labels that arrived)."),
    config: str = typer.Option(None, "--config", help="Rules YAML (default rules otherwise)."),
    reference: str = typer.Option(None, "--reference", help="Reference data, if the model "
                                  "version has no stored profile."),
    label_column: str = typer.Option(None, help="Column with true labels (performance)."),
    prediction_column: str = typer.Option(None, help="Column with model predictions."),
    webhook: str = typer.Option(None, help="POST a JSON alert here when the status is not ok."),
    fail_on: str = typer.Option("", help="Exit 1 for these statuses, e.g. drift,error."),
) -> None:
    """Check current data against a model version: drift, quality, status, alert.

    --window 1h: the current data is what `nbops serve` answered in the last hour.
    """
    from nbops.monitoring.model_check import run_check

    try:
        report = run_check(model, current, window=window, reference=reference, rules=config,
                           label_column=label_column, prediction_column=prediction_column,
                           webhook=webhook)
    except NbopsError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(report.to_text())
    if report.status in {s.strip() for s in fail_on.split(",") if s.strip()}:
        raise typer.Exit(1)
