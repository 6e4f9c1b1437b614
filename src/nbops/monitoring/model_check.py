"""A monitoring check of a registered model version, as a scheduled notebook or ``nbops monitor``
runs it. It reads like the steps:

    resolve the model version ─► load current data (a table, or a time window of the request
    log of ``nbops serve``) ─► load the reference stored with the version
    ─► drift + data quality (+ prediction drift, performance with labels) + staleness
    ─► evaluate the rules ─► log a monitoring run (metrics, findings, evidently HTML report)
    ─► set ``nbops.monitor.status`` on the version ─► POST an alert when not ok

The reference is stored with the model version when the model is logged with its training
dataset (``nbops.dataset(train_df)`` then ``nbops.log_model(...)`` in one run), or by
:func:`store_reference`: the version's source run holds ``monitoring/reference_profile.json``
(the :class:`Profile`) and ``monitoring/reference_sample.parquet`` (up to 5,000 rows, for
evidently's HTML report). A packaged version (``nbops.source_run`` tag) uses its source's.

With ``window="1h"`` the current data is what the model's server answered in that window
(routes primary and canary, never shadow): drift on the requests' features, and performance
(concept drift) on the requests of the checked version whose labels arrived (``POST
/nbops/v1/label`` or ``nbops.serve.label``), joined by request id.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import MonitoringError, StoreUnavailableError, UsageError
from nbops.registry._store import quiet_downloads, store_errors

__all__ = ["DEFAULT_RULES", "MonitorReport", "current_from_log", "load_reference", "run_check",
           "store_reference"]

PROFILE_ARTIFACT = "monitoring/reference_profile.json"
SAMPLE_ARTIFACT = "monitoring/reference_sample.parquet"
SAMPLE_ROWS = 5_000
DEFAULT_RULES = ["drift.share >= 0.5 -> drift", "drift.share > 0 -> warning",
                 "quality.errors > 0 -> error"]


@dataclass
class MonitorReport:
    """The outcome of :func:`run_check`."""

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


def load_reference(client: Any, version: Any) -> tuple[Any, Any | None]:
    """The reference Profile (and sample DataFrame, or None) stored with a model version."""
    import pandas as pd

    from nbops.monitoring.profile import Profile

    # A packaged version's run is the package run: the reference is in its source run.
    candidates = [r for r in (version.run_id, (version.tags or {}).get("nbops.source_run")) if r]
    if not candidates:
        raise MonitoringError(f"Model {version.name}/{version.version} has no source run, so no "
                              "reference profile. Pass --reference PATH (the training data).")
    with tempfile.TemporaryDirectory() as tmp:
        prof_path = None
        for run_id in candidates:
            try:
                with store_errors(f"reading the reference profile of run {run_id}", client), \
                        quiet_downloads():
                    prof_path = client.download_artifacts(run_id, PROFILE_ARTIFACT, tmp)
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
            with store_errors(f"reading the reference sample of run {run_id}", client), \
                    quiet_downloads():
                sample = pd.read_parquet(client.download_artifacts(run_id, SAMPLE_ARTIFACT, tmp))
        except StoreUnavailableError:
            raise
        except Exception:  # noqa: BLE001 - the sample is optional (no HTML report without it)
            sample = None
    return prof, sample


def _read_table(source: Any, what: str) -> Any:
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


def current_from_log(name: str, version: str, window: Any) -> tuple[Any, Any]:
    """(current data, labelled rows answered by ``version``) from the request log of model
    ``name`` over ``window`` (a duration back from now like ``"1h"``, or a start time)."""
    import pandas as pd

    from nbops.exceptions import NotFoundError
    from nbops.serving.reqlog import log_dir, read_log

    folder = log_dir(name)
    try:
        frame = read_log(name, since=window, routes=("primary", "canary"))
    except NotFoundError:
        frame = None
    if frame is None or frame.empty:
        raise MonitoringError(
            f"The request log of model {name!r} holds no answered request in the window "
            f"{window!r} (log folder {folder}). Send traffic to `nbops serve {name}@ALIAS` "
            "first, or widen the window (`--window 24h`; window='24h' in Python).")
    frame = frame.drop(columns=[c for c in ("scores", "row") if c in frame.columns])
    if not (frame["version"].astype(str) == str(version)).any():
        # A status on this version from other versions' traffic would be a silent lie.
        counts = frame.groupby(frame["version"].astype(str))["request_id"].nunique()
        others = ", ".join(f"version {v} ({n} requests)" for v, n in counts.items())
        raise MonitoringError(
            f"Version {version} of model {name!r} answered no request in the window "
            f"{window!r}: the log holds only {others}. Check the alias that serves the traffic "
            f"(e.g. `nbops monitor {name}@prod`), or send traffic to version {version} "
            f"(`nbops serve {name}@ALIAS --canary ALIAS=10%`), or widen the window "
            "(`--window 24h`; window='24h' in Python).")
    labelled = frame[(frame["version"] == str(version)) & frame["label"].notna()]
    classes = pd.to_numeric(labelled["label"], errors="coerce")
    if len(labelled) and classes.notna().all() and (classes % 1 == 0).all():
        labelled = labelled.assign(label=classes.astype("int64"))  # NaN made them floats
    return frame, labelled


def run_check(
    model: str,
    current: Any = None,
    *,
    window: Any = None,
    reference: Any = None,
    rules: Any = None,
    label_column: str | None = None,
    prediction_column: str | None = None,
    task: str = "classification",
    experiment: str = "monitoring",
    webhook: str | None = None,
    report_sample: int = 20_000,
    fail_on: tuple[str, ...] | list[str] = (),
    tracking_uri: str | None = None,
) -> MonitorReport:
    """Check ``current`` data against model version ``model`` (``name@alias``, ``name/3``, …).

    >>> report = run_check("churn@prod", "data/current.csv")   # doctest: +SKIP
    >>> report.status                                           # doctest: +SKIP
    'warning'
    >>> run_check("churn@prod", window="1h").metrics["accuracy"]  # doctest: +SKIP
    0.91

    ``current`` is a DataFrame or a CSV / Parquet file; ``window`` instead reads what the
    model's server answered in that window (a duration like ``"1h"``, or a start time), with
    its predictions and the labels that arrived (see :func:`current_from_log`).

    ``fail_on`` (e.g. ``["drift", "error"]``): after everything is recorded, raise
    MonitoringError when the status is one of these, so a scheduled notebook fails visibly.
    """
    bad = set(fail_on) - {"ok", "warning", "drift", "error"}
    if bad:
        raise UsageError(f"fail_on: unknown status(es) {sorted(bad)}; use ok, warning, drift, "
                         "error.")
    if (current is None) == (window is None):
        raise UsageError("Pass the current data (a DataFrame, CSV or Parquet file) or a window "
                         "of the request log (window='1h'), not " +
                         ("both." if window is not None else "neither."))
    from mlflow import MlflowClient

    from nbops.config import load_settings
    from nbops.data.tracked import dataset
    from nbops.monitoring.drift import drift, prediction_drift
    from nbops.monitoring.performance import performance
    from nbops.monitoring.profile import Profile
    from nbops.monitoring.report import html_report
    from nbops.monitoring.rules import evaluate, load_rules
    from nbops.monitoring.staleness import staleness
    from nbops.monitoring.status import set_status
    from nbops.registry.resolve import resolve_version
    from nbops.serving.reqlog import log_dir
    from nbops.tracking.embedded import ensure_store
    from nbops.tracking.run import track

    uri = tracking_uri or load_settings().tracking_uri
    ensure_store(uri)
    client = MlflowClient(uri)
    version = resolve_version(model, client=client)
    ref_name = f"{version.name}/{version.version}"
    rule_set = load_rules(rules if rules is not None else DEFAULT_RULES)
    if window is not None:
        current_df, scored = current_from_log(version.name, version.version, window)
        label_column, prediction_column = "label", "prediction"
        source = str(log_dir(version.name))
    else:
        current_df = scored = _read_table(current, "Current data")
        source = None if not isinstance(current, str | Path) else str(current)

    sample = None
    if reference is None:
        reference, sample = load_reference(client, version)
    elif not isinstance(reference, Profile):
        sample = _read_table(reference, "Reference data")
        reference = sample

    skip = {c for c in (label_column, prediction_column) if c}
    ref_columns = list(reference.schema if isinstance(reference, Profile) else reference.columns)
    columns = [c for c in ref_columns if c not in skip]
    result = drift(current_df, reference, columns=columns)
    metrics = result.to_metrics()
    findings = [f.to_dict() for f in result.findings]
    if prediction_column and prediction_column in current_df.columns and isinstance(
            reference, Profile) and prediction_column in reference.schema:
        metrics.update(prediction_drift(current_df, reference, column=prediction_column)
                       .to_metrics())
    trained = client.get_run(version.run_id) if version.run_id else None
    baseline, f1_of = None, None
    if label_column and prediction_column and len(scored):
        perf = performance(scored[label_column], scored[prediction_column], task=task)
        metrics.update(perf.to_metrics())
        f1_of = perf.f1_of
        baseline = dict(trained.data.metrics) if trained else None  # the metrics at training
    # Ages: the version's creation, and its training run's start (when its data was read).
    metrics.update(staleness(version.creation_timestamp,
                             trained.info.start_time if trained else None).to_metrics())
    status = evaluate(rule_set, metrics, baseline=baseline)

    report_path = None
    with track(f"monitor {ref_name}", experiment=experiment,
               tags={"nbops.monitor.model": ref_name, "nbops.monitor.status": status.status,
                     "nbops.source_run": version.run_id or ""}) as run:
        dataset(current_df, name="current", context="evaluation", source=source)
        run.log_metrics({k: float(v) for k, v in metrics.items()})
        run.log_artifact({"status": status.to_dict(), "findings": findings,
                          "drifted_columns": result.drifted_columns}, "monitoring/result.json")
        if sample is not None:
            with tempfile.TemporaryDirectory() as tmp:
                shared = [c for c in columns if c in current_df.columns and c in sample.columns]
                path = html_report(current_df[shared], sample[shared],
                                   Path(tmp) / "drift_report.html", sample=report_sample)
                report_path = run.log_text(path.read_text(encoding="utf-8"),
                                           "monitoring/drift_report.html")
        run_id = run.require_mlflow_id()
    run.wait(timeout=60)  # the report a status points to is in MLflow when we return
    set_status(client, version.name, version.version, status.status, report_run_id=run_id)
    report = MonitorReport(ref_name, status.status, metrics, status.fired, findings, run_id,
                           report_path, drifted_columns=result.drifted_columns, f1_of=f1_of)
    url = webhook or rule_set.alert.get("url")
    if url and status.status != "ok":
        from nbops.monitoring.alerts import post_alert

        payload = {"model": ref_name, "status": status.status, "fired": status.fired,
                   "drift_share": metrics.get("drift.share"), "report_run": run_id,
                   "drifted_columns": result.drifted_columns}
        report.alert_status = post_alert(url, json.loads(json.dumps(payload, default=str)),
                                         timeout=float(rule_set.alert.get("timeout", 5)))
    if status.status in fail_on:
        raise MonitoringError(f"Monitoring status of {ref_name} is {status.status!r} "
                              f"(fail_on={list(fail_on)}).\n{report.to_text()}")
    return report
