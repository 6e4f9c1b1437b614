"""``nbops.gate``: compare the challenger with the champion on a labelled window, record the
gate run, and promote (an audited alias move) or reject (alias unchanged, an alert).

    criteria ─► window (DataFrame, CSV or Parquet) ─► guard rails (lock, cool-down, cap)
      ─► resolve NAME@challenger and NAME@champion
      ─► load each: its ONNX package (``<name>-onnx`` tagged nbops.source_model) else its pyfunc
      ─► predict the window ─► accuracy or RMSE, latency p50/p99, agreement, champion drift
      ─► shadow traffic: the request log's shadow records of the challenger version, paired by
         request id with what the champion answered ─► shadow_agreement, shadow_p50/p99_ms
         (criteria on them fail as "no shadow traffic" when there is none)
      ─► criteria ─► gate run (params, metrics, report.html, tag nbops.gate.decision);
         the challenger version is tagged nbops.gate.run and nbops.gate.decision
      ─► promote: registry.set_alias(NAME, champion, challenger version, reason=summary + run)
         reject: alias unchanged, POST to the webhook if one is given
      ─► one line in the continuous-training history (``nbops ct status NAME``)

Example:
    >>> result = nbops.gate("churn", data="window.parquet", label_column="churned",   # doctest: +SKIP
    ...                     criteria=["accuracy >= champion + 0.01", "p99_ms <= 5"])
    >>> result.decision, result.champion.version                                     # doctest: +SKIP
    ('promoted', '3')
"""

from __future__ import annotations

import html
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import GuardRailError, MonitoringError, UsageError
from nbops.pipeline import guard
from nbops.store import Store, open_store
from nbops.store import tags as T
from nbops.store.models import download_model, load_model
from nbops.workflows.criteria import SHADOW_METRICS, Criterion, parse_criteria

__all__ = ["NO_SHADOW", "TAG_DECISION", "TAG_RUN", "CriterionRow", "GateResult", "ModelScore",
           "gate"]

log = logging.getLogger("nbops.gate")

TAG_DECISION = T.GATE_DECISION
TAG_RUN = T.GATE_RUN  # on the challenger version: its latest gate run
TASKS = ("classification", "regression")
#: what a shadow criterion shows (and fails with) when the request log holds no shadow records
NO_SHADOW = "no shadow traffic"
_CHUNK = 4096  # rows per prediction call on the whole window


@dataclass(frozen=True)
class ModelScore:
    """One side of the gate: the version an alias resolved to and its measured metrics."""

    alias: str
    version: str
    flavor: str  # "onnx" or "pyfunc"
    package: str | None  # the ONNX package run, "churn-onnx/2", when one was used
    metrics: dict[str, float]
    drift: str  # the version's monitoring status tag, "unknown" when never monitored


@dataclass(frozen=True)
class CriterionRow:
    """One criterion as evaluated: both models' values, the threshold, and whether it passed."""

    criterion: str
    challenger: float | str
    champion: float | str
    threshold: str
    passed: bool


@dataclass(frozen=True)
class GateResult:
    """What :func:`gate` decided: ``promoted``, ``rejected``, ``passed`` (promote=False) or
    ``dry-run`` (``passed`` says whether the criteria held)."""

    model: str
    decision: str
    passed: bool
    rows: list[CriterionRow]
    challenger: ModelScore
    champion: ModelScore
    task: str
    run_id: str
    summary: str
    audit: Any = None  # the registry AuditRecord of the promotion
    alert: str | None = None  # what the webhook answered, when one was given
    report_html: str = field(default="", repr=False)
    shadow_requests: int = 0  # served requests compared on shadow traffic

    def to_text(self) -> str:
        lines = [f"gate {self.model}: challenger v{self.challenger.version} "
                 f"({self.challenger.flavor}) vs champion v{self.champion.version} "
                 f"({self.champion.flavor}), {self.task}"]
        lines.append(f"  shadow traffic: {self.shadow_requests} requests compared"
                     if self.shadow_requests else f"  {NO_SHADOW}")
        for row in self.rows:
            lines.append(f"  {'PASS' if row.passed else 'FAIL'}  {row.criterion:<32} "
                         f"challenger {_fmt(row.challenger)}  champion {_fmt(row.champion)}  "
                         f"threshold {row.threshold}")
        lines.append(f"decision: {self.decision}  (gate run {self.run_id})")
        if self.alert:
            lines.append(f"alert: {self.alert}")
        return "\n".join(lines)


def gate(
    model: str,
    challenger: str = "challenger",
    champion: str = "champion",
    *,
    data: Any,
    label_column: str,
    criteria: Sequence[str] | str,
    promote: bool = True,
    dry_run: bool = False,
    reason: str | None = None,
    task: str | None = None,
    webhook: str | None = None,
    batch_size: int = 1,
    cooldown: float = guard.DEFAULT_COOLDOWN,
    max_per_day: int = guard.DEFAULT_MAX_PER_DAY,
    experiment: str | None = None,
    clock: Callable[[], float] = time.time,
) -> GateResult:
    """Gate ``model@challenger`` against ``model@champion`` on a labelled window.

    ``data``: a DataFrame or a CSV/Parquet path; every column but ``label_column`` is a feature,
    in order. ``task``: ``classification`` or ``regression`` (default: regression when the
    label is a float column). Latency is timed on batches of ``batch_size`` rows.
    ``promote=False`` or ``dry_run=True`` evaluate and record without moving the alias
    (``dry_run`` also skips the cool-down and daily cap). ``reason`` is prefixed to the
    promotion's audit reason. Guard rails raise :class:`GuardRailError`.

    Example:
        >>> nbops.gate("churn", data=window, label_column="y",          # doctest: +SKIP
        ...            criteria=["accuracy >= champion", "drift: drift, warning"]).decision
        'promoted'
    """
    rules = parse_criteria(criteria)
    if task is not None and task not in TASKS:
        raise UsageError(f"task must be one of {', '.join(TASKS)}; got {task!r}.")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1; got {batch_size}.")
    frame = _window(data, label_column)
    task = task or _task_of(frame[label_column])
    _check_metrics(rules, task)
    moves = promote and not dry_run
    try:
        with guard.in_flight(model, "gate", clock=clock):
            if moves:
                guard.check_promotion(model, cooldown=cooldown, max_per_day=max_per_day,
                                      clock=clock)
            result = _run_gate(model, challenger, champion, frame, label_column, rules, task,
                               moves=moves, dry_run=dry_run, reason=reason, webhook=webhook,
                               batch_size=batch_size, experiment=experiment)
    except GuardRailError as exc:
        guard.record({"model": model, "decision": "refused", "challenger": challenger,
                      "champion": champion, "reason": str(exc)}, clock=clock)
        raise
    guard.record({"model": model, "decision": result.decision, "passed": result.passed,
                  "challenger": f"{challenger}=v{result.challenger.version}",
                  "champion": f"{champion}=v{result.champion.version}",
                  "reason": result.summary, "run_id": result.run_id,
                  **({"alert": result.alert} if result.alert else {})}, clock=clock)
    return result


# -- the steps ---------------------------------------------------------------------------------


def _run_gate(model: str, challenger: str, champion: str, frame: Any, label_column: str,
              rules: list[Criterion], task: str, *, moves: bool, dry_run: bool,
              reason: str | None, webhook: str | None, batch_size: int,
              experiment: str | None) -> GateResult:
    from nbops.registry.resolve import resolve_version
    from nbops.tracking.run import track

    store = open_store()
    mv_new = resolve_version(f"{model}@{challenger}", store=store)
    mv_old = resolve_version(f"{model}@{champion}", store=store)
    if str(mv_new.version) == str(mv_old.version):
        raise UsageError(f"{model}@{challenger} and {model}@{champion} are the same version "
                         f"({mv_new.version}); there is nothing to gate. Register a new version "
                         f"and point {challenger!r} at it.")
    labels = frame[label_column].to_numpy()
    features = frame.drop(columns=[label_column])
    with tempfile.TemporaryDirectory(prefix="nbops-gate-") as tmp:
        new = _Loaded.load(store, mv_new, Path(tmp) / "challenger")
        old = _Loaded.load(store, mv_old, Path(tmp) / "champion")
        x_new, x_old = new.inputs(features), old.inputs(features)
        out_new, out_old = new.predict_all(x_new), old.predict_all(x_old)
        latency = _latency({"challenger": lambda: new.predict(x_new[:batch_size]),
                            "champion": lambda: old.predict(x_old[:batch_size])})
    pred_new, pred_old = _predictions(out_new, task), _predictions(out_old, task)
    agreement = _agreement(pred_new, pred_old, labels, task)
    shadow = _shadow_traffic(model, str(mv_new.version), str(mv_old.version), labels, task)
    scores = {}
    for side, mv, loaded, pred in (("challenger", mv_new, new, pred_new),
                                   ("champion", mv_old, old, pred_old)):
        metrics = {**_quality(pred, labels, task), **latency[side], "agreement": agreement,
                   **(shadow[side] if shadow else {})}
        scores[side] = ModelScore(challenger if side == "challenger" else champion,
                                  str(mv.version), loaded.flavor, loaded.package, metrics,
                                  _drift(mv))
    rows = [_evaluate(rule, scores["challenger"], scores["champion"]) for rule in rules]
    passed = all(r.passed for r in rows)
    decision = ("dry-run" if dry_run else "promoted" if passed and moves
                else "passed" if passed else "rejected")
    summary = _summary(rows)
    requests = int(shadow["requests"]) if shadow else 0
    report = _report_html(model, scores["challenger"], scores["champion"], rows, decision, task,
                          len(frame), requests)
    tags = {TAG_DECISION: decision, T.GATE_MODEL: model,
            T.GATE_CHALLENGER: f"{model}/{mv_new.version}",
            T.GATE_CHAMPION: f"{model}/{mv_old.version}"}
    params = {f"criterion_{i}": r.text for i, r in enumerate(rules, 1)}
    params.update({"model": model, "challenger": f"{challenger}=v{mv_new.version}",
                   "champion": f"{champion}=v{mv_old.version}", "task": task,
                   "rows": len(frame), "batch_size": batch_size, "shadow_requests": requests})
    audit = None
    with track(f"gate {model} v{mv_new.version} vs v{mv_old.version}", experiment=experiment,
               tags=tags, params=params) as run:
        shared = ("agreement", "shadow_agreement")
        run.log_metrics({f"{side}_{k}": v for side, s in scores.items()
                         for k, v in s.metrics.items() if k not in shared})
        run.log_metrics({k: v for k, v in scores["challenger"].metrics.items() if k in shared})
        run.log_metrics({"passed": float(passed)})
        run.log_text(report, "gate/report.html")
        run_id = run.require_mlflow_id()
        from nbops.registry.api import set_alias, set_tag

        for key, value in ((TAG_RUN, run_id), (TAG_DECISION, decision)):
            set_tag(model, key, value, version=str(mv_new.version), store=store)
        if decision == "promoted":
            why = f"{reason}; " if reason else ""
            audit = set_alias(model, champion, str(mv_new.version), store=store,
                              reason=f"{why}gate passed: {summary} (gate run {run_id})")
    alert = None
    if decision == "rejected" and webhook:
        alert = _alert(webhook, model, scores, rows, run_id)
    return GateResult(model, decision, passed, rows, scores["challenger"], scores["champion"],
                      task, run_id, summary, audit, alert, report, requests)


def _window(data: Any, label_column: str) -> Any:
    import pandas as pd

    if isinstance(data, str | Path):
        path = Path(data)
        if not path.is_file():
            raise UsageError(f"No data file at {path}. Pass a CSV or Parquet file of the "
                             "labelled window, or a pandas DataFrame.")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise UsageError(f"{path} is neither .csv nor .parquet; write the window in one of "
                             "those formats, or pass a pandas DataFrame.")
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise UsageError(f"data must be a pandas DataFrame or a CSV/Parquet path; got a "
                         f"{type(data).__name__}.")
    if label_column not in frame.columns:
        from nbops.exceptions import closest

        cols = [str(c) for c in frame.columns]
        raise UsageError(f"The window has no label column {label_column!r}."
                         f"{closest(label_column, cols)} Its columns: {', '.join(cols)}.")
    if len(frame) == 0 or len(frame.columns) < 2:
        raise UsageError(f"The window needs at least one row and one feature column besides "
                         f"{label_column!r}; it has {len(frame)} rows and columns "
                         f"{list(frame.columns)}.")
    return frame


def _task_of(labels: Any) -> str:
    import pandas as pd

    return "regression" if pd.api.types.is_float_dtype(labels) else "classification"


def _check_metrics(rules: list[Criterion], task: str) -> None:
    wrong = {"classification": "rmse", "regression": "accuracy"}[task]
    for rule in rules:
        if rule.metric == wrong:
            other = "accuracy" if wrong == "rmse" else "rmse"
            raise UsageError(f"Criterion {rule.text!r} needs a {_opposite(task)} window, but "
                             f"this one is {task} (label dtype); use {other!r} instead, or "
                             f"pass task={_opposite(task)!r} (--task).")


def _opposite(task: str) -> str:
    return "regression" if task == "classification" else "classification"


class _Loaded:
    """One model version ready to predict: its ONNX package, else its MLflow pyfunc."""

    def __init__(self, flavor: str, package: str | None, predict: Callable[[Any], Any],
                 dtype: Any) -> None:
        self.flavor, self.package, self.predict, self.dtype = flavor, package, predict, dtype

    @classmethod
    def load(cls, store: Store, mv: Any, folder: Path) -> _Loaded:
        import numpy as np

        from nbops.registry.resolve import onnx_package

        found = (mv.name, str(mv.version)) if mv.tags.get(T.PACKAGE) == "onnx" \
            else onnx_package(mv.name, str(mv.version), store)
        if found is not None:
            from nbops.packaging.runtime import load

            download_model(store, f"models:/{'/'.join(found)}", folder)
            files = sorted(folder.rglob("*.onnx"))
            if not files:
                raise UsageError(f"{'/'.join(found)} is tagged as an ONNX package but holds no "
                                 ".onnx file; package the model again with `nbops package "
                                 f"{mv.name}/{mv.version}`.")
            predictor = load(files[0])
            if len(predictor.input_names) != 1:
                raise UsageError(f"{'/'.join(found)} takes {len(predictor.input_names)} inputs; "
                                 "the gate feeds one table of features. Gate a single-input "
                                 "model.")
            kind = predictor.session.get_inputs()[0].type
            dtype = {"tensor(double)": np.float64, "tensor(int64)": np.int64,
                     "tensor(int32)": np.int32}.get(kind, np.float32)
            return cls("onnx", "/".join(found), predictor.predict, dtype)
        log.warning("%s/%s has no ONNX package: the gate runs its MLflow pyfunc (slower). "
                    "Package it with `nbops package %s/%s`.", mv.name, mv.version, mv.name,
                    mv.version)
        model = load_model(store, f"models:/{mv.name}/{mv.version}", flavor="pyfunc")
        return cls("pyfunc", None, lambda x: _array(model.predict(x)), np.float32)

    def inputs(self, features: Any) -> Any:
        try:
            return features.to_numpy(dtype=self.dtype, copy=True)  # writable, for torch
        except (TypeError, ValueError) as exc:
            raise UsageError(f"The window's feature columns cannot be read as numbers ({exc}). "
                             "Encode them as numbers first, as the model was trained.") from None

    def predict_all(self, x: Any) -> Any:
        import numpy as np

        parts = [_array(self.predict(x[i:i + _CHUNK])) for i in range(0, len(x), _CHUNK)]
        return np.concatenate(parts, axis=0)


def _array(out: Any) -> Any:
    import numpy as np

    if isinstance(out, list):
        out = out[0]
    if isinstance(out, dict):
        out = next(iter(out.values()))
    if hasattr(out, "to_numpy"):
        out = out.to_numpy()
    return np.asarray(out)


def _latency(fns: dict[str, Callable[[], Any]], rounds: int = 5) -> dict[str, dict[str, float]]:
    """p50/p99 ms per call, timed in alternating rounds so load hits both models alike."""
    from nbops.packaging.bench import time_calls

    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for side, fn in fns.items():
            samples[side] += time_calls(fn, warmup=3, max_iters=40, max_seconds=0.1)
    return {side: {"p50_ms": _percentile(s, 50) / 1e3, "p99_ms": _percentile(s, 99) / 1e3}
            for side, s in samples.items()}


def _percentile(samples: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(samples), q))


def _predictions(out: Any, task: str) -> Any:
    """Class indices (argmax of a 2-D output; a single column is the class itself), or values."""
    import numpy as np

    if task == "classification":
        if out.ndim == 2 and out.shape[1] > 1:
            return out.argmax(axis=1)
        return np.rint(out.reshape(len(out))).astype(np.int64)
    if out.size != len(out):
        raise UsageError(f"A regression gate needs one output value per row; the model returns "
                         f"shape {tuple(out.shape)}. Pass task='classification' (--task) if "
                         "the outputs are class scores.")
    return out.reshape(len(out)).astype(np.float64)


def _quality(pred: Any, labels: Any, task: str) -> dict[str, float]:
    import numpy as np

    if task == "classification":
        try:
            truth = labels.astype(np.int64)
        except (TypeError, ValueError):
            raise UsageError("Classification labels must be class indices (0, 1, ...); the "
                             "label column holds text. Encode it as the model was trained, or "
                             "pass task='regression' for a numeric target.") from None
        return {"accuracy": float((pred == truth).mean())}
    return {"rmse": float(np.sqrt(((pred - labels.astype(np.float64)) ** 2).mean()))}


def _agreement(a: Any, b: Any, labels: Any, task: str) -> float:
    """Classification: share of rows with the same class. Regression: share of rows whose
    predictions differ by at most 5 % of the label's standard deviation."""
    import numpy as np

    if task == "classification":
        return float((a == b).mean())
    tolerance = 0.05 * float(np.std(labels.astype(np.float64))) or 1e-9
    return float((np.abs(a - b) <= tolerance).mean())


def _shadow_traffic(model: str, new_version: str, old_version: str, labels: Any, task: str
                    ) -> dict[str, Any] | None:
    """What the served traffic says, or None when the request log holds no shadow record of
    ``new_version`` paired (same request id and row) with an answer of ``old_version``:
    ``{"requests": n, "challenger": {shadow_agreement, shadow_p50_ms, shadow_p99_ms},
    "champion": {the same, with the latency of its own answers}}``."""
    from nbops.exceptions import NotFoundError
    from nbops.serving.reqlog import read_log

    try:
        log = read_log(model, routes=("primary", "shadow"))
    except NotFoundError:
        return None
    if log.empty:
        return None
    versions = log["version"].astype(str)
    shadow = log[(log["route"] == "shadow") & (versions == new_version)]
    primary = log[(log["route"] == "primary") & (versions == old_version)]
    pairs = shadow.merge(primary, on=["request_id", "row"], suffixes=("_new", "_old"))
    if pairs.empty:
        return None
    agreement = _agreement(pairs["prediction_new"].to_numpy(), pairs["prediction_old"].to_numpy(),
                           labels, task)
    ids = pairs["request_id"].unique()
    out: dict[str, Any] = {"requests": len(ids)}
    for side, frame in (("challenger", shadow), ("champion", primary)):
        ms = frame[frame["request_id"].isin(ids)].drop_duplicates("request_id")["latency_ms"]
        out[side] = {"shadow_agreement": agreement,
                     "shadow_p50_ms": _percentile(ms.tolist(), 50),
                     "shadow_p99_ms": _percentile(ms.tolist(), 99)}
    return out


def _drift(mv: Any) -> str:
    from nbops.monitoring.status import TAG_STATUS

    return str(mv.tags.get(TAG_STATUS, "unknown"))


def _evaluate(rule: Criterion, new: ModelScore, old: ModelScore) -> CriterionRow:
    if rule.metric == "drift":
        return CriterionRow(rule.text, "-", old.drift, rule.describe_threshold(),
                            old.drift in rule.statuses)
    if rule.metric in SHADOW_METRICS and rule.metric not in new.metrics:
        return CriterionRow(rule.text, NO_SHADOW, "-", rule.describe_threshold(), False)
    passed, limit = rule.check(new.metrics, old.metrics)
    shown = rule.describe_threshold() + (f" = {limit:.4g}" if rule.relative else "")
    shared = rule.metric in ("agreement", "shadow_agreement")
    champion = "-" if shared else old.metrics[rule.metric]
    return CriterionRow(rule.text, new.metrics[rule.metric], champion, shown, passed)


def _fmt(value: float | str) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _summary(rows: list[CriterionRow]) -> str:
    return "; ".join(f"{r.criterion}: {'pass' if r.passed else 'FAIL'} "
                     f"({_fmt(r.challenger)} vs {_fmt(r.champion)})" for r in rows)


def _alert(webhook: str, model: str, scores: dict[str, ModelScore], rows: list[CriterionRow],
           run_id: str) -> str:
    """POST the rejection; a failed alert is reported, never raised (the decision stands)."""
    from nbops.monitoring.alerts import post_alert

    payload = {"event": "gate.rejected", "model": model,
               "challenger": scores["challenger"].version, "champion": scores["champion"].version,
               "failed": [r.criterion for r in rows if not r.passed], "gate_run": run_id}
    try:
        return f"webhook answered HTTP {post_alert(webhook, payload)}"
    except MonitoringError as exc:
        log.warning("gate alert not delivered: %s", exc)
        return f"not delivered: {exc}"


def _report_html(model: str, new: ModelScore, old: ModelScore, rows: list[CriterionRow],
                 decision: str, task: str, n_rows: int, shadow_requests: int) -> str:
    """A small self-contained page: one table, inline styles, no scripts."""
    e = html.escape
    body = "".join(
        f"<tr><td>{e(r.criterion)}</td><td>{e(_fmt(r.challenger))}</td>"
        f"<td>{e(_fmt(r.champion))}</td><td>{e(r.threshold)}</td>"
        f"<td class='{'ok' if r.passed else 'bad'}'>{'pass' if r.passed else 'fail'}</td></tr>"
        for r in rows)
    metrics = "".join(
        f"<tr><td>{e(k)}</td><td>{new.metrics[k]:.4g}</td><td>{old.metrics[k]:.4g}</td></tr>"
        for k in new.metrics)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>gate {e(model)}</title><style>body{{font-family:sans-serif;margin:1.5em}}"
        "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;"
        "padding:4px 10px;text-align:left}.ok{color:#1a7f37}.bad{color:#cf222e}</style>"
        f"</head><body><h2>gate {e(model)}: {e(decision)}</h2>"
        f"<p>challenger v{e(new.version)} ({e(new.flavor)}) vs champion v{e(old.version)} "
        f"({e(old.flavor)}); {e(task)} on {n_rows} rows; champion drift status "
        f"{e(old.drift)}</p><p>{_shadow_line(shadow_requests)}</p>"
        "<table><tr><th>criterion</th><th>challenger</th><th>champion</th>"
        f"<th>threshold</th><th>pass</th></tr>{body}</table><table><tr><th>metric</th>"
        f"<th>challenger</th><th>champion</th></tr>{metrics}</table></body></html>")


def _shadow_line(requests: int) -> str:
    if not requests:
        return (f"{NO_SHADOW}: the request log holds no shadow prediction of the challenger "
                "next to the champion's answer (serve the champion with --shadow challenger "
                "and send requests); shadow criteria fail.")
    return (f"shadow traffic: {requests} served requests compared by request id; shadow_ "
            "metrics: the challenger as a shadow (latency from request arrival to its "
            "prediction) and the champion's own answers to the same requests.")
