"""The human-readable drift report, rendered by evidently.

The verdicts in :func:`~nbops.monitoring.drift` come from nbops' own fast path; the HTML page
comes from evidently itself, so it shows evidently's charts. evidently needs the raw rows of
both datasets; ``sample`` bounds the cost on large data (a uniform random sample of at most
``sample`` rows from each side, seed 0 — verdicts on a sample can differ from the full data,
and the page states the sample size in its metadata).

Example:
    >>> import pandas as pd
    >>> from nbops.monitoring import html_report
    >>> df = pd.DataFrame({"x": [float(i) for i in range(50)]})
    >>> html_report(df, df, "/tmp/nbops-drift.html").name  # doctest: +SKIP
    'nbops-drift.html'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nbops.exceptions import DependencyMissingError, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["html_report"]


def html_report(
    current: pd.DataFrame,
    reference_df: pd.DataFrame,
    path: str | Path,
    sample: int | None = None,
    *,
    columns: list[str] | None = None,
    preset: bool = True,
) -> Path:
    """Write evidently's data-drift HTML report to ``path`` and return the path.

    ``preset=True`` renders ``DataDriftPreset`` (summary table and per-column charts);
    ``preset=False`` renders one ``ValueDrift`` metric per column, which is faster.
    """
    import pandas as pd

    from nbops.monitoring.profile import Profile

    if isinstance(reference_df, Profile):
        raise UsageError("html_report() needs the reference rows (a DataFrame), not a Profile: "
                         "evidently draws its charts from raw data. Pass a sample of the "
                         "training data.")
    if not isinstance(current, pd.DataFrame) or not isinstance(reference_df, pd.DataFrame):
        raise UsageError("html_report() needs pandas DataFrames for current and reference_df.")
    if sample is not None:
        if sample < 1:
            raise UsageError(f"sample must be a positive number of rows, got {sample}.")
        if len(current) > sample:
            current = current.sample(n=sample, random_state=0)
        if len(reference_df) > sample:
            reference_df = reference_df.sample(n=sample, random_state=0)
    if columns is not None:
        current, reference_df = current[columns], reference_df[columns]
    try:
        from evidently import Report
        from evidently.metrics import ValueDrift
        from evidently.presets import DataDriftPreset
    except ImportError:
        raise DependencyMissingError("evidently", "The HTML drift report", "monitor") from None

    if preset:
        metrics: list = [DataDriftPreset(columns=columns)]
    else:
        metrics = [ValueDrift(column=str(c)) for c in current.columns if c in reference_df.columns]
    report = Report(metrics, metadata={"nbops.sample": str(sample), "rows.current": len(current),
                                       "rows.reference": len(reference_df)})
    snapshot = report.run(current, reference_df)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out))
    return out
