"""``nbops.monitor.run_check`` / ``nbops monitor``: a monitoring check of a registered model
version, as a scheduled notebook or the CLI runs it. A workflow: it spans the registry, the
request log of ``nbops serve``, monitoring and tracking. It reads like the steps:

    resolve the model version ─► load current data (a table, or a time window of the request
    log of ``nbops serve``) ─► load the reference stored with the version
    ─► drift + data quality (+ prediction drift, performance with labels) + staleness
    ─► evaluate the rules ─► log a monitoring run (metrics, findings, evidently HTML report)
    ─► set ``nbops.monitor.status`` on the version ─► POST an alert when not ok

With ``window="1h"`` the current data is what the model's server answered in that window
(routes primary and canary, never shadow): drift on the requests' features, and performance
(concept drift) on the requests of the checked version whose labels arrived (``POST
/nbops/v1/label`` or ``nbops.serve.label``), joined by request id.

``nbops.monitor`` is the monitoring library (:mod:`nbops.monitoring`) plus this check.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from nbops.exceptions import MonitoringError, UsageError
from nbops.monitoring import *  # noqa: F403 - nbops.monitor is the library plus the check
from nbops.monitoring import __all__ as _library
from nbops.monitoring.model_check import (
    DEFAULT_RULES,
    MonitorReport,
    load_reference,
    read_table,
)
from nbops.store import open_store
from nbops.store import tags as T

__all__ = [*_library, "current_from_log", "run_check"]


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
    from nbops.tracking.run import track

    store = open_store(load_settings(), tracking_uri=tracking_uri)
    version = resolve_version(model, store=store)
    ref_name = f"{version.name}/{version.version}"
    rule_set = load_rules(rules if rules is not None else DEFAULT_RULES)
    if window is not None:
        current_df, scored = current_from_log(version.name, version.version, window)
        label_column, prediction_column = "label", "prediction"
        source = str(log_dir(version.name))
    else:
        current_df = scored = read_table(current, "Current data")
        source = None if not isinstance(current, str | Path) else str(current)

    sample = None
    if reference is None:
        reference, sample = load_reference(store, version)
    elif not isinstance(reference, Profile):
        sample = read_table(reference, "Reference data")
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
    trained = store.run(version.run_id) if version.run_id else None
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
               tags={T.MONITOR_MODEL: ref_name, T.MONITOR_STATUS: status.status,
                     T.SOURCE_RUN: version.run_id or ""}) as run:
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
    set_status(store, version.name, version.version, status.status, report_run_id=run_id)
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
