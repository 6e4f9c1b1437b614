"""Model performance over time windows, with scikit-learn's metrics.

Classification: ``accuracy``, ``f1`` and ``roc_auc`` when scores are given. ``f1`` is the F1 of
class 1 (the positive class) for 0/1 or True/False labels, and the macro average over classes
otherwise, as scikit-learn's and evidently's defaults compute it; ``PerformanceResult.f1_of``
says which (``"class 1"``, ``"class True"`` or ``"macro"``). Regression: ``mae`` and ``rmse``. Windows are either a
number of consecutive rows (``window=1000``) or, with ``timestamps``, a pandas frequency
(``window="1D"``).

Example:
    >>> from nbops.monitoring import performance
    >>> r = performance([0, 1, 1, 0], [0, 1, 0, 0], task="classification", window=2)
    >>> r.metrics["accuracy"], [w["accuracy"] for w in r.windows]
    (0.75, [1.0, 0.5])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbops.exceptions import MonitoringError, UsageError

__all__ = ["TASKS", "PerformanceResult", "performance"]

TASKS = ("classification", "regression")


@dataclass
class PerformanceResult:
    """Overall metrics plus one entry per window (``start``, ``end``, ``n`` and the metrics)."""

    task: str
    metrics: dict[str, float]
    windows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    f1_of: str | None = None  # "class 1" / "class True" (binary labels), "macro"; None: regression

    def to_metrics(self) -> dict[str, float]:
        """Overall metrics under their plain names (``accuracy``, ``f1``, ``mae`` ...).

        Log the windows as a series with ``step`` = window index if you want a curve.
        """
        return {k: v for k, v in self.metrics.items() if not math.isnan(v)}

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "metrics": self.metrics, "windows": self.windows,
                "notes": self.notes, "f1_of": self.f1_of}


def _scores(task: str, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None,
            binary: bool, notes: list[str]) -> dict[str, float]:
    from sklearn import metrics as skm

    if task == "regression":
        err = y_pred.astype(float) - y_true.astype(float)
        return {"mae": float(np.mean(np.abs(err))), "rmse": float(math.sqrt(np.mean(err * err)))}
    out = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1": float(skm.f1_score(y_true, y_pred, average="binary" if binary else "macro",
                                 zero_division=0)),
    }
    if y_score is not None:
        if len(np.unique(y_true)) < 2:
            out["roc_auc"] = math.nan
            note = "roc_auc is undefined where only one class is present (reported as NaN)."
            if note not in notes:
                notes.append(note)
        elif y_score.ndim == 1:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, y_score))
        else:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, y_score, multi_class="ovr"))
    return out


def performance(
    y_true: Any,
    y_pred: Any,
    task: str = "classification",
    window: int | str | None = None,
    timestamps: Any = None,
    *,
    y_score: Any = None,
) -> PerformanceResult:
    """Performance of predictions against labels, overall and per window.

    ``y_score`` (classification only): the positive-class score (1-D) or class probabilities
    (2-D) for ROC AUC.

    Example:
        >>> import pandas as pd
        >>> from nbops.monitoring import performance
        >>> ts = pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02"])
        >>> r = performance([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 3.0, 5.0], task="regression",
        ...                 window="1D", timestamps=ts)
        >>> [w["mae"] for w in r.windows]
        [0.25, 0.5]
    """
    import pandas as pd

    if task not in TASKS:
        raise UsageError(f"task must be one of {list(TASKS)}, got {task!r}.")
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    ys = None if y_score is None else np.asarray(y_score, dtype=float)
    if yt.shape[0] != yp.shape[0] or (ys is not None and ys.shape[0] != yt.shape[0]):
        raise UsageError(
            f"y_true ({yt.shape[0]}), y_pred ({yp.shape[0]})"
            + ("" if ys is None else f" and y_score ({ys.shape[0]})")
            + " must have the same length; align predictions with their labels first.")
    if ys is not None and task != "classification":
        raise UsageError("y_score applies to task='classification' only.")
    if yt.shape[0] == 0:
        raise MonitoringError("No labelled predictions to score (0 rows). Check that labels "
                              "have arrived for the monitored period.")
    labels = set(np.unique(yt).tolist()) | set(np.unique(yp).tolist())
    binary = labels <= {0, 1} or labels <= {False, True}
    notes: list[str] = []
    f1_of = None if task == "regression" else (
        "macro" if not binary else "class True" if labels <= {False, True} and any(
            isinstance(v, bool | np.bool_) for v in labels) else "class 1")
    result = PerformanceResult(task, _scores(task, yt, yp, ys, binary, notes), notes=notes,
                               f1_of=f1_of)
    if window is None:
        return result

    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise UsageError(f"window must be a positive number of rows, got {window}.")
        groups = [(i, min(i + window, len(yt))) for i in range(0, len(yt), window)]
        for lo, hi in groups:
            sl = slice(lo, hi)
            entry: dict[str, Any] = {"start": lo, "end": hi, "n": hi - lo}
            entry.update(_scores(task, yt[sl], yp[sl], None if ys is None else ys[sl], binary,
                                 notes))
            result.windows.append(entry)
        return result

    if timestamps is None:
        raise UsageError(f"window={window!r} is a time frequency and needs timestamps=...; "
                         "or pass an int window (a number of rows).")
    ts = pd.to_datetime(pd.Series(np.asarray(timestamps)))
    if len(ts) != len(yt):
        raise UsageError(f"timestamps ({len(ts)}) and y_true ({len(yt)}) differ in length.")
    try:
        keys = ts.dt.floor(window)
    except ValueError as e:
        raise UsageError(f"window={window!r} is not a pandas frequency such as '1h', '1D', "
                         f"'7D' ({e}).") from None
    offset = pd.tseries.frequencies.to_offset(window)
    for key, idx in sorted(keys.groupby(keys).groups.items()):
        pos = np.asarray(ts.index.get_indexer(idx))
        entry = {"start": key.isoformat(), "end": (key + offset).isoformat(), "n": int(pos.size)}
        entry.update(_scores(task, yt[pos], yp[pos], None if ys is None else ys[pos], binary,
                             notes))
        result.windows.append(entry)
    return result
