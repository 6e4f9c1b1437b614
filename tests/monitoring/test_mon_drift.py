"""Drift results: metrics, chunking, prediction drift, the HTML report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbops.monitoring import drift, html_report, prediction_drift, profile


def test_to_metrics_and_to_dict(frame_factory):
    res = drift(frame_factory(3000, 0.4, seed=2), frame_factory(3000, 0.0, seed=1))
    m = res.to_metrics()
    assert m["drift.share"] == res.share and m["drift.dataset_drift"] in (0.0, 1.0)
    assert m["drift.n1.drifted"] == 1.0 and m["drift.n0.drifted"] == 0.0
    assert m["drift.n1.score"] == pytest.approx(res["n1"].score)
    d = res.to_dict()
    assert d["columns"]["n1"]["stattest"] == "wasserstein" and d["columns"]["n1"]["threshold"] == 0.1


def test_chunk_size_does_not_change_the_result(frame_factory):
    ref, cur = profile(frame_factory(800, 0.0, seed=1)), frame_factory(25000, 0.4, seed=2)
    a, b = drift(cur, ref, chunk_size=3000), drift(cur, ref, chunk_size=100_000)
    for c in a.columns:
        assert a[c].score == pytest.approx(b[c].score, rel=1e-9, abs=1e-12)
        assert a[c].drifted == b[c].drifted


def test_drift_share_threshold(frame_factory):
    ref, cur = frame_factory(3000, 0.0, seed=1), frame_factory(3000, 0.4, seed=2)
    res = drift(cur, ref, drift_share=0.1)
    assert res.dataset_drift == (res.share >= 0.1)


def test_prediction_drift_series_and_profile():
    rng = np.random.default_rng(0)
    ref = pd.Series(rng.uniform(size=3000), name="score")
    res = prediction_drift(pd.Series(rng.uniform(0.2, 1.2, size=3000)), ref)
    assert res["prediction"].drifted
    assert "prediction_drift.prediction.score" in res.to_metrics()
    p = profile(pd.DataFrame({"label": rng.choice(["yes", "no"], 3000)}))
    same = prediction_drift(pd.DataFrame({"label": rng.choice(["yes", "no"], 500)}), p,
                            column="label")
    assert not same["label"].drifted and same["label"].stattest == "jensenshannon"


def test_html_report(tmp_path, frame_factory):
    ref, cur = frame_factory(1500, 0.0, seed=1), frame_factory(1500, 0.4, seed=2)
    out = html_report(cur, ref, tmp_path / "r" / "drift.html", sample=400, preset=False)
    text = out.read_text(encoding="utf-8")
    assert out.stat().st_size > 10_000 and "<html" in text.lower()


def test_folded_categories_never_score_above_the_exact_score():
    """Past max_categories both sides fold onto the reference's kept categories: the score is
    a lower bound of the exact one, so folding cannot raise a false alarm."""
    rng = np.random.default_rng(8)
    p = 1.0 / np.arange(1, 3001) ** 1.1
    labels = np.array([f"c{i}" for i in range(3000)])
    ref = pd.DataFrame({"c": rng.choice(labels, 200_000, p=p / p.sum())})
    same = pd.DataFrame({"c": rng.choice(labels, 100_000, p=p / p.sum())})
    tilted = pd.DataFrame({"c": rng.choice(labels, 100_000, p=p[::-1] / p.sum())})
    exact_ref, folded_ref = profile(ref), profile(ref, max_categories=1000)
    assert not exact_ref["c"].categorical.overflowed and folded_ref["c"].categorical.overflowed
    for cur in (same, tilted):
        exact, folded = drift(cur, exact_ref)["c"], drift(cur, folded_ref)["c"]
        assert folded.score <= exact.score + 1e-12
    assert not drift(same, folded_ref)["c"].drifted
    assert drift(tilted, folded_ref)["c"].drifted
