"""What a monitoring check of a registered model version needs from monitoring: its report,
and the reference stored with the version.

The reference is stored with the model version when the model is logged with its training
dataset (``nbops.dataset(train_df)`` then ``nbops.log_model(...)`` in one run), or by
:func:`store_reference`: the version's source run holds ``monitoring/reference_profile.json``
(the :class:`Profile`) and ``monitoring/reference_sample.parquet`` (up to 5,000 rows, for
evidently's HTML report). A packaged version (``nbops.source_run`` tag) uses its source's.

The check itself (``nbops.monitor.run_check``, ``nbops monitor``) spans the registry, the
request log of ``nbops serve`` and tracking: it is a workflow, :mod:`nbops.workflows.monitor`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.exceptions import MonitoringError, StoreUnavailableError, UsageError
from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store import Store

__all__ = ["DEFAULT_RULES", "MonitorReport", "load_reference", "read_table", "store_reference"]

PROFILE_ARTIFACT = "monitoring/reference_profile.json"
SAMPLE_ARTIFACT = "monitoring/reference_sample.parquet"
SAMPLE_ROWS = 5_000
DEFAULT_RULES = ["drift.share >= 0.5 -> drift", "drift.share > 0 -> warning",
                 "quality.errors > 0 -> error"]


@dataclass
class MonitorReport:
    """The outcome of a monitoring check (``nbops.monitor.run_check``)."""

    model: str
    status: str
    metrics: dict[str, float]
    fired: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    run_id: str | None
    report_path: str | None = None
    alert_status: int | None = None
    drifted_columns: list[str] = field(default_factory=list)
    f1_of: str | None = None  # which F1: "class 1" (binary labels) or "macro"

    def to_text(self) -> str:
        lines = [f"{self.model}: status {self.status.upper()} "
                 f"(drift share {self.metrics.get('drift.share', float('nan')):.2f}; "
                 f"drifted: {', '.join(self.drifted_columns) or 'none'})"]
        names = {"f1": f"f1 ({self.f1_of})" if self.f1_of else "f1"}
        scores = [f"{names.get(k, k)} {self.metrics[k]:.3f}"
                  for k in ("accuracy", "f1", "mae", "rmse") if k in self.metrics]
        if scores:
            lines.append(f"  performance on labelled rows: {', '.join(scores)}")
        lines += [f"  rule fired: {f.get('rule')} ({f.get('metric')} = {f.get('value')})"
                  for f in self.fired]
        lines += [f"  {f['severity']}: {f['message']}" for f in self.findings]
        if self.run_id:
            lines.append(f"  report run: {self.run_id}")
        return "\n".join(lines)


def store_reference(run: Any, df: Any) -> None:
    """Log ``df``'s profile and a sample of it on ``run`` (an nbops Run) as the reference."""
    from nbops.monitoring.profile import profile

    prof = profile(df)
    run.log_text(prof.to_json(), PROFILE_ARTIFACT)
    sample = df.sample(n=SAMPLE_ROWS, random_state=0) if len(df) > SAMPLE_ROWS else df

    def write(path: Path) -> None:
        sample.to_parquet(path)

    run._stage(SAMPLE_ARTIFACT, write)


def load_reference(store: Store, version: Any) -> tuple[Any, Any | None]:
    """The reference Profile (and sample DataFrame, or None) stored with a model version."""
    import pandas as pd

    from nbops.monitoring.profile import Profile

    # A packaged version's run is the package run: the reference is in its source run.
    candidates = [r for r in (version.run_id, (version.tags or {}).get(T.SOURCE_RUN)) if r]
    if not candidates:
        raise MonitoringError(f"Model {version.name}/{version.version} has no source run, so no "
                              "reference profile. Pass --reference PATH (the training data).")
    with tempfile.TemporaryDirectory() as tmp:
        prof_path = None
        for run_id in candidates:
            try:
                prof_path = store.download_artifacts(run_id, PROFILE_ARTIFACT, tmp)
                break
            except StoreUnavailableError:
                raise  # an outage is never "no profile"
            except Exception:  # noqa: BLE001 - MLflow raises several types for a missing file
                continue
        if prof_path is None:
            raise MonitoringError(
                f"Model {version.name}/{version.version} has no reference profile: its run "
                f"{candidates[0]} logged no {PROFILE_ARTIFACT}. Log the model in the run that "
                "called nbops.dataset(train_df), or pass --reference PATH (the training data)."
            )
        prof = Profile.from_json(Path(prof_path).read_text())
        try:
            sample = pd.read_parquet(store.download_artifacts(run_id, SAMPLE_ARTIFACT, tmp))
        except StoreUnavailableError:
            raise
        except Exception:  # noqa: BLE001 - the sample is optional (no HTML report without it)
            sample = None
    return prof, sample


def read_table(source: Any, what: str) -> Any:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{what} {str(path)!r} does not exist. Pass a CSV or Parquet file.")
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet,
               ".json": pd.read_json}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise UsageError(f"{what} {str(path)!r}: unsupported file type {path.suffix!r}; use "
                         f"one of {', '.join(readers)}.")
    return reader(path)
