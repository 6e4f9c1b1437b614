"""Data quality problems are findings, not crashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbops.exceptions import MonitoringError, UsageError
from nbops.monitoring import check, drift, profile


@pytest.fixture(scope="module")
def ref_profile(frame_factory):
    return profile(frame_factory(3000, 0.0, seed=1))


def codes(findings, column=None):
    return sorted(f.code for f in findings if column is None or f.column == column)


def test_schema_mismatch_reported_as_findings(frame_factory, ref_profile):
    cur = frame_factory(2000, 0.0, seed=2).drop(columns=["n2"])
    cur["new_feature"] = 1.0
    cur["n0"] = cur["n0"].astype(str)  # numeric -> string
    res = drift(cur, ref_profile)
    by_col = {f.column: f for f in res.findings}
    assert by_col["n2"].code == "missing_column" and by_col["n2"].severity == "error"
    assert by_col["new_feature"].code == "extra_column"
    assert by_col["n0"].code == "dtype_changed" and by_col["n0"].severity == "error"
    assert "n0" not in res.columns and "n2" not in res.columns and "n1" in res.columns
    assert res.to_metrics()["quality.errors"] == 2
    assert codes(check(cur, ref_profile)) == codes(res.findings)


def test_int_turning_float_is_info_and_still_tested(frame_factory, ref_profile):
    cur = frame_factory(2000, 0.0, seed=2)
    cur["small_int"] = cur["small_int"].astype(float)
    cur.loc[:5, "small_int"] = np.nan
    res = drift(cur, ref_profile)
    (f,) = [f for f in res.findings if f.column == "small_int"]
    assert (f.code, f.severity) == ("dtype_changed", "info")
    assert not res["small_int"].drifted


def test_unseen_categories(frame_factory, ref_profile):
    cur = frame_factory(2000, 0.0, seed=2)
    cur.loc[:99, "c3"] = "brand-new"
    res = drift(cur, ref_profile)
    (f,) = [f for f in res.findings if f.code == "unseen_categories"]
    assert f.column == "c3" and "'brand-new'" in f.message and "100 rows" in f.message
    assert res["c3"].stattest == "jensenshannon"


def test_all_nan_column_is_skipped(frame_factory, ref_profile):
    cur = frame_factory(2000, 0.0, seed=2)
    cur["n1"] = np.nan
    res = drift(cur, ref_profile)
    assert "n1" not in res.columns
    assert codes(res.findings, "n1") == ["all_missing"]


def test_high_cardinality_and_text():
    ref = pd.DataFrame({"city": [f"c{i % 40}" for i in range(4000)],
                        "comment": [f"free text {i}" for i in range(4000)],
                        "x": np.arange(4000.0)})
    p = profile(ref, max_categories=20)
    res = drift(ref.iloc[::-1].reset_index(drop=True), p)
    assert codes(res.findings, "city") == ["high_cardinality"]
    assert "folded the same way" in [f for f in res.findings if f.column == "city"][0].message
    assert res["city"].score == 0.0  # the same rows, folded identically on both sides
    # free text is tested with evidently's text-content method, on the texts the profile kept
    assert p["comment"].kind == "text" and len(p["comment"].categorical.texts.texts) == 4000
    assert res["comment"].stattest == "abs_text_content_drift" and not res["comment"].drifted
    assert codes(res.findings, "comment") == []


def test_empty_current_raises_but_check_reports(ref_profile, frame_factory):
    empty = frame_factory(10, 0.0, seed=2).iloc[:0]
    with pytest.raises(MonitoringError, match="no rows"):
        drift(empty, ref_profile)
    assert codes(check(empty, ref_profile)) == ["empty_current"]


def test_nothing_testable_raises(ref_profile):
    with pytest.raises(MonitoringError, match="No column could be tested"):
        drift(pd.DataFrame({"unrelated": [1.0, 2.0]}), ref_profile)


def test_bad_arguments(ref_profile, frame_factory):
    cur = frame_factory(100, 0.0, seed=2)
    with pytest.raises(UsageError, match="Allowed"):
        drift(cur, ref_profile, method="kss")
    with pytest.raises(UsageError, match="not in the reference"):
        drift(cur, ref_profile, columns=["n9"])
    with pytest.raises(UsageError, match="does not apply"):
        drift(cur, ref_profile, columns=["c3"], method="wasserstein")
