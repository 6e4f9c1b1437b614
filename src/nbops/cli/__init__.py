"""The ``nbops`` command line: the commands of tracking, sync, monitoring and packaging here,
one module each for the registry, pipelines, serving and continuous training. Every command
reports an nbops error the same way (:mod:`nbops.cli.errors`)."""

from __future__ import annotations

import typer

from nbops.cli.errors import fail, reported
from nbops.exceptions import NbopsError

app = typer.Typer(
    name="nbops",
    help="Notebook-native MLOps on MLflow: capture, sync and inspect tracked runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def sync(
    timeout: float = typer.Option(60.0, help="Seconds to wait for the store before giving up."),
    retry_rejected: bool = typer.Option(False, "--retry-rejected",
                                        help="Retry the events set aside as unshippable."),
    after: str = typer.Option(None, hidden=True,
                              help="Owner token of an exiting process to wait for first."),
    quiet: bool = typer.Option(False, "--quiet", hidden=True, help="Print only problems."),
) -> None:
    """Replay spooled events of ended sessions to MLflow; running it twice is harmless.

    Exit status: 0 everything shipped, 1 events stay spooled (store unreachable or unusable),
    3 events were set aside as unshippable (listed by `nbops status`).
    """
    from nbops.config import load_settings
    from nbops.tracking.logger import replay, yield_cpu
    from nbops.tracking.notebook_html import skip_iri_grammar

    skip_iri_grammar()  # this process renders the notebooks logged as HTML pages
    if after:  # started in the background by an exiting process: it waits for nobody
        yield_cpu(whole_process=True)
    try:
        settings = load_settings()
        report = replay(settings, timeout, after=after, retry_rejected=retry_rejected)
    except NbopsError as exc:
        fail(exc)
    if not quiet:
        line = (f"shipped {report.shipped} event(s) to their tracking store(s) in "
                f"{report.seconds:.1f}s")
        if report.reaped_runs:
            line += f"; {report.reaped_runs} run(s) marked FAILED (their process had died)"
        typer.echo(line)
        if report.live_backlog:
            typer.echo(f"{report.live_backlog} event(s) belong to processes still running; "
                       "they ship them themselves (or run `%nbops sync` in that kernel).")
    if report.left:
        typer.secho(f"{report.left} event(s) still spooled: {report.problem or 'store too slow'}."
                    " Run `nbops sync` again when the store is reachable.",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)
    if report.newly_rejected:
        typer.secho(f"{report.newly_rejected} event(s) could not be written and were set aside; "
                    "`nbops status` lists them.", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(3)


@app.command()
def status() -> None:
    """Show the settings in force, the store's health, the spool backlog and set-aside events."""
    from nbops.config import load_settings
    from nbops.tracking.spool import Spool
    from nbops.tracking.status import status_text

    try:
        settings = load_settings()
        text = status_text(settings, Spool(settings.home))
    except NbopsError as exc:
        fail(exc)
    typer.echo(text)


@app.command()
def runs(
    experiment: str = typer.Argument(..., help="Experiment name."),
    metric: list[str] = typer.Option([], "--metric", "-m", help="Metric columns to show."),
    max_results: int = typer.Option(20, "--max", help="How many runs (newest first)."),
) -> None:
    """Print a table of an experiment's runs: params that vary and final metrics."""
    from rich.console import Console
    from rich.table import Table

    from nbops.runs.compare import compare

    try:
        frame = compare(experiment, max_results=max_results)
    except NbopsError as exc:
        fail(exc)
    if frame.empty:
        typer.echo(f"No runs in experiment {experiment!r} yet.")
        return
    cols = [c for c in frame.columns if c.startswith("param.")]
    metric_cols = [f"metric.{m}" for m in metric] or [c for c in frame.columns
                                                       if c.startswith("metric.")][:6]
    table = Table(title=f"runs of {experiment!r}")
    for c in ["run_id", "name", "status", *cols, *metric_cols]:
        table.add_column(c.split(".", 1)[-1], overflow="fold")
    for run_id, row in frame.iterrows():
        cells = [run_id[:8], str(row["name"]), str(row["status"])]
        cells += ["" if _missing(row.get(c)) else str(row.get(c)) for c in cols]
        cells += ["" if _missing(row.get(c)) else f"{row.get(c):.4g}" for c in metric_cols]
        table.add_row(*cells)
    Console().print(table)


def _missing(value: object) -> bool:
    return value is None or value != value


@app.command()
def reproduce(
    run_id: str = typer.Argument(..., help="The MLflow run id to re-execute."),
    tolerance: float = typer.Option(1e-6, help="Metrics match when equal within this (abs/rel)."),
    register: bool = typer.Option(False, "--register", help="Let the re-run register model "
                                  "versions and move aliases (off by default)."),
) -> None:
    """Re-execute a run's notebook with its params; the registry is left untouched.

    Exit status: 0 equal, 1 a metric differs, 3 nothing to compare (the run logged no metric).
    """
    from nbops.workflows.reproduce import reproduce as _reproduce

    try:
        report = _reproduce(run_id, tolerance=tolerance, register=register)
    except NbopsError as exc:
        fail(exc)
    typer.echo(report.to_text())
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command()
def monitor(
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
    from nbops.workflows.monitor import run_check

    try:
        report = run_check(model, current, window=window, reference=reference, rules=config,
                           label_column=label_column, prediction_column=prediction_column,
                           webhook=webhook)
    except NbopsError as exc:
        fail(exc)
    typer.echo(report.to_text())
    if report.status in {s.strip() for s in fail_on.split(",") if s.strip()}:
        raise typer.Exit(1)


@app.command()
def package(
    model: str = typer.Argument(..., help="Model version: name@alias, name/3, models:/... or a "
                                "run id with a logged torch model."),
    name: str = typer.Option(None, help="Registered name of the package (default <model>-onnx)."),
    quantize: str = typer.Option(None, help="Also build int8: dynamic or static."),
    example_shape: str = typer.Option(None, help="Example input shape, e.g. 1,16 (default: from "
                                      "the model's signature)."),
    alias: str = typer.Option(None, help="Set this alias on the registered package."),
) -> None:
    """Export a registered torch model to ONNX, check parity, benchmark, register it.

    Without an evaluation metric (only the Python API and package.ipynb can pass one) an int8
    model is built and benchmarked but fp32 is kept.
    """
    from nbops.workflows.package import example_from_signature, onnx

    try:
        shape = tuple(int(d) for d in example_shape.split(",")) if example_shape else None
    except ValueError:
        fail(ValueError(f"--example-shape must be comma-separated integers, got "
                         f"{example_shape!r} (e.g. 1,16)."))
    try:
        example = example_from_signature(model, shape)
        pkg = onnx(model, example, name=name, quantize=quantize, alias=alias)
    except NbopsError as exc:
        fail(exc)
    result = pkg.result
    typer.echo(f"registered {pkg.uri} ({result.variant}; exporter {result.export.exporter}; "
               f"parity max abs error {result.parity.max_abs_error:.2e})")
    typer.echo(f"why {result.variant}: {result.reason}")
    typer.echo(f"package run: {pkg.run_id}")


def _mount() -> None:
    """The commands of each capability, one module each in nbops.cli (`nbops monitor` is
    defined above)."""
    from nbops.cli.pipeline import run_command, schedule_app, scheduler_command
    from nbops.cli.registry import lineage_command, registry_app
    from nbops.cli.serving import serve_command
    from nbops.cli.workflows import mount as mount_workflows

    app.add_typer(registry_app, name="registry")
    app.command("lineage")(lineage_command)
    app.command("run")(run_command)
    app.add_typer(schedule_app, name="schedule")
    app.command("scheduler")(scheduler_command)
    app.command("serve")(serve_command)
    mount_workflows(app)


_mount()


def main() -> None:  # pragma: no cover - entry point
    # Registered first, so it runs after every other exit handler (the tracker's hand-off to
    # `nbops sync` included): the garbage collector is frozen, since CPython's last collections
    # of a heap holding the pipeline's modules and MLflow's took 0.3-0.6 s of an `nbops run`
    # here, and the process is ending (as in the Jupyter server extension).
    import atexit
    import gc

    atexit.register(gc.freeze)
    with reported():  # an error raised while the commands are set up
        app()
