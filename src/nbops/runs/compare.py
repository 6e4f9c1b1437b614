"""Compare runs: one row per run with its params and final metrics, and a metric plot.

    >>> import nbops
    >>> table = nbops.compare("train", metric="loss")     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbops.exceptions import (
    DependencyMissingError,
    NotFoundError,
    PermanentStoreError,
    UsageError,
    closest,
)
from nbops.store import Store, open_store
from nbops.store.tags import SESSION

__all__ = ["compare", "metric_plot", "search"]


def _store(tracking_uri: str | None) -> Store:
    from nbops.config import load_settings

    return open_store(load_settings(), tracking_uri=tracking_uri)


def search(experiment_or_runs: str | Sequence[str], *, tracking_uri: str | None = None,
           max_results: int = 100, include_sessions: bool = False) -> list[Any]:
    """MLflow runs of an experiment (newest first), or the runs with the given ids."""
    store = _store(tracking_uri)
    if isinstance(experiment_or_runs, str):
        exp = store.experiment(experiment_or_runs)
        if exp is None:
            known = [e.name for e in store.experiments()]
            raise NotFoundError(f"No experiment named {experiment_or_runs!r}."
                                f"{closest(experiment_or_runs, known)} Known: {sorted(known)}")
        runs = store.runs([exp.experiment_id], limit=max_results,
                          order_by=["attributes.start_time DESC"])
        if not include_sessions:
            runs = [r for r in runs if r.data.tags.get(SESSION) != "true"]
        return runs
    out = []
    for run_id in experiment_or_runs:
        try:
            out.append(store.run(run_id))
        except (NotFoundError, PermanentStoreError):  # unknown, or not a run id at all
            raise NotFoundError(f"No run with id {run_id!r} in {store.tracking_uri}.") from None
    return out


def compare(experiment_or_runs: str | Sequence[str], metric: str | None = None, *,
            tracking_uri: str | None = None, max_results: int = 100) -> Any:
    """A pandas DataFrame, one row per run: name, status, start time, params, final metrics.

    Only params that differ between runs are kept when there is more than one run. With
    ``metric`` in a notebook, a plot of that metric over steps, one line per run, is shown too.
    """
    import pandas as pd

    runs = search(experiment_or_runs, tracking_uri=tracking_uri, max_results=max_results)
    rows = []
    for r in runs:
        row: dict[str, Any] = {"run_id": r.info.run_id, "name": r.info.run_name,
                               "status": r.info.status,
                               "start": pd.Timestamp(r.info.start_time, unit="ms")}
        row.update({f"param.{k}": v for k, v in r.data.params.items()})
        row.update({f"metric.{k}": v for k, v in r.data.metrics.items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table) > 1:
        same = [c for c in table.columns if c.startswith("param.")
                and table[c].nunique(dropna=False) == 1]
        table = table.drop(columns=same)
    if not table.empty:
        table = table.set_index("run_id")
    if metric is not None:
        if f"metric.{metric}" not in table.columns:
            known = sorted(c[7:] for c in table.columns if c.startswith("metric."))
            raise UsageError(f"No run here logged the metric {metric!r}.{closest(metric, known)} "
                             f"Metrics: {known}")
        _show(metric_plot(runs, metric, tracking_uri=tracking_uri))
    return table


def metric_plot(runs: Sequence[Any], metric: str, *, tracking_uri: str | None = None) -> Any:
    """A matplotlib figure of ``metric`` over steps for each run (a bar per run if 1 step)."""
    try:
        import matplotlib

        matplotlib.use(matplotlib.get_backend())
        from matplotlib.figure import Figure
    except ImportError:
        raise DependencyMissingError("matplotlib", "Comparison plots", "ui") from None
    store = _store(tracking_uri)
    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    histories = {r.info.run_name or r.info.run_id[:8]: store.metric_history(r.info.run_id, metric)
                 for r in runs if metric in r.data.metrics}
    if all(len(h) <= 1 for h in histories.values()):
        names = list(histories)
        ax.bar(names, [h[-1].value for h in histories.values()])
        ax.tick_params(axis="x", labelrotation=30)
    else:
        for name, history in histories.items():
            ax.plot([m.step for m in history], [m.value for m in history], label=name)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    ax.set_ylabel(metric)
    fig.tight_layout()
    return fig


def _show(fig: Any) -> None:
    """Show ``fig`` in a notebook as a PNG, whether or not pyplot (and its inline backend, which
    registers IPython's figure formatter) was imported first."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is not None:
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        display(Image(data=buffer.getvalue(), format="png"))
