"""nbops' verdicts equal evidently 0.7.23's when evidently is handed an explicit DataDefinition
(no mocks). Its auto mode, where evidently types the columns itself, is test_mon_parity_auto.py."""

from __future__ import annotations

import pytest

from nbops.monitoring import drift, profile


def evidently_verdicts(current, reference, numeric, categorical):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    dd = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snap = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=dd),
        Dataset.from_pandas(reference, data_definition=dd),
    )
    columns, share = {}, None
    for m in snap.dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            share = m["value"]["share"]
        elif cfg["type"].endswith("ValueDrift"):
            method, thr, value = cfg["method"], cfg["threshold"], m["value"]
            if "p_value" in method:
                drifted = value <= thr if method.startswith("K-S") else value < thr
            else:
                drifted = value >= thr
            columns[cfg["column"]] = (method, value, drifted)
    return columns, share


CASES = [
    # (reference rows, current rows): >1,000 regime, boundary, small with large current
    pytest.param(4000, 3000, id="large"),
    pytest.param(1000, 700, id="small-boundary"),
    pytest.param(300, 12000, id="small-ref-large-current"),
]


@pytest.mark.parametrize(("n_ref", "n_cur"), CASES)
@pytest.mark.parametrize("shift", [0.0, 0.4], ids=["undrifted", "drifted"])
def test_verdicts_match_evidently(frame_factory, column_kinds, n_ref, n_cur, shift):
    NUMERIC, CATEGORICAL = column_kinds  # noqa: N806
    ref = frame_factory(n_ref, 0.0, seed=1)
    cur = frame_factory(n_cur, shift, seed=2)
    expected, share = evidently_verdicts(cur, ref, NUMERIC, CATEGORICAL)
    ours = drift(cur, profile(ref))
    assert set(ours.columns) == set(expected)
    for col, (method, value, drifted) in expected.items():
        got = ours[col]
        assert got.stattest_display == method, col
        assert got.drifted == drifted, (col, got.score, value)
        assert got.score == pytest.approx(value, rel=2e-3, abs=2e-3), col
    assert ours.share == pytest.approx(share)
    if shift:
        assert ours.drifted_columns  # the shifted columns are caught
    else:
        assert not ours.dataset_drift


def test_auto_inferred_int_column_is_categorical_like_evidently(frame_factory):
    from evidently.core.datasets import infer_column_type

    ref = frame_factory(2000, 0.0, seed=3)
    assert infer_column_type(ref["small_int"]).value == "cat"
    assert profile(ref)["small_int"].kind == "categorical"
    assert profile(ref)["n0"].kind == "numeric"


def test_psi_option(frame_factory):
    ref, cur = frame_factory(5000, 0.0, seed=1), frame_factory(5000, 0.4, seed=2)
    res = drift(cur, ref, method="psi")
    assert {r.stattest for r in res.columns.values()} == {"psi"}
    assert res["n1"].drifted and not res["n0"].drifted
    assert res["c3"].drifted and not res["c2"].drifted
