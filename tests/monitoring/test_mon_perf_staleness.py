"""Performance over windows and staleness."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from nbops.exceptions import MonitoringError, UsageError
from nbops.monitoring import performance, staleness


def test_classification_with_scores_and_time_windows():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    score = np.clip(y * 0.6 + rng.uniform(0, 0.5, n), 0, 1)
    pred = (score > 0.5).astype(int)
    ts = pd.date_range("2026-03-01", periods=n, freq="h")
    r = performance(y, pred, window="1D", timestamps=ts, y_score=score)
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    assert r.metrics["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert r.metrics["f1"] == pytest.approx(f1_score(y, pred))
    assert r.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert len(r.windows) == 17 and r.windows[0]["n"] == 24
    assert r.windows[0]["start"].startswith("2026-03-01")
    assert set(r.to_metrics()) == {"accuracy", "f1", "roc_auc"}


def test_multiclass_and_regression_row_windows():
    r = performance(["a", "b", "c", "a"], ["a", "b", "b", "a"], window=2)
    assert r.metrics["accuracy"] == 0.75 and [w["n"] for w in r.windows] == [2, 2]
    reg = performance([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 6.0], task="regression")
    assert reg.metrics == {"mae": 0.5, "rmse": 1.0}


def test_performance_errors():
    with pytest.raises(UsageError, match="same length"):
        performance([1, 0], [1])
    with pytest.raises(UsageError, match="task must be"):
        performance([1], [1], task="ranking")
    with pytest.raises(UsageError, match="needs timestamps"):
        performance([1], [1], window="1D")
    with pytest.raises(MonitoringError, match="0 rows"):
        performance([], [])


def test_staleness_accepts_mlflow_millis_iso_and_datetime():
    now = datetime(2026, 2, 1, tzinfo=UTC)
    created_ms = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    s = staleness(created_ms, "2025-12-22T00:00:00Z", now=now)
    assert (s.model_age_days, s.data_age_days, s.data_lag_days) == (31.0, 41.0, 10.0)
    assert s.to_metrics()["staleness.model_age_days"] == 31.0
    assert staleness(datetime(2026, 1, 31), now=now).data_age_days is None
    with pytest.raises(UsageError, match="ISO 8601"):
        staleness("last tuesday")


def test_f1_says_which_class_or_average_it_is() -> None:
    from sklearn.metrics import f1_score


    never_one = performance([0, 1, 1, 0, 0], [0, 0, 0, 0, 0])  # the model never predicts 1
    assert never_one.f1_of == "class 1" and never_one.metrics["f1"] == 0.0
    assert never_one.metrics["f1"] == f1_score([0, 1, 1, 0, 0], [0] * 5, zero_division=0)
    three = performance([0, 1, 2, 2], [0, 1, 1, 2])
    assert three.f1_of == "macro"
    assert three.metrics["f1"] == f1_score([0, 1, 2, 2], [0, 1, 1, 2], average="macro")
    assert performance([True, False], [True, True]).f1_of == "class True"
    assert performance([1.0, 2.0], [1.5, 2.0], task="regression").f1_of is None
