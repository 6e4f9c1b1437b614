"""nbops' verdicts equal evidently 0.7.23's in evidently's own auto mode (no DataDefinition).

A zoo of dtypes (float, ints with 2-15 distinct values, Int64/Float64/boolean/uint8, bool,
category, object and pandas' str, datetime, free text, ids, 3,000 Zipf categories, NaN and
inf, sentinels) at three sizes, undrifted, near the thresholds and drifted. evidently types
each column from the current data; so must nbops.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nbops.monitoring import drift, profile

WORDS = np.array("order parcel late refund broken great service support delivery price item "
                 "quality box driver courier return label store account payment".split())
SHIFTED = np.array("crash login error timeout update screen battery slow freeze reboot".split())


def evidently_auto(current: pd.DataFrame, reference: pd.DataFrame):
    """evidently's per-column (method, score, threshold) and dataset (count, share)."""
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap = Report([DataDriftPreset()]).run(Dataset.from_pandas(current),
                                               Dataset.from_pandas(reference))
    columns, count = {}, None
    for m in snap.dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            count = m["value"]
        elif cfg["type"].endswith("ValueDrift"):
            columns[cfg["column"]] = (cfg["method"], float(m["value"]), cfg["threshold"])
    return columns, count


def verdict(method: str, value: float, threshold: float) -> bool | None:
    """evidently's verdict from its score (None for the percentile text test, whose cut-off
    evidently computes from random classifiers and does not report)."""
    if method.startswith("Percentile"):
        return None
    if "p_value" in method:
        return value <= threshold if method.startswith("K-S") else value < threshold
    return value > threshold if "text" in method else value >= threshold


def zipf_choice(rng, k: int, n: int, a: float = 1.1) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1) ** a
    return rng.choice(np.array([f"cat{i:04d}" for i in range(k)]), n, p=p / p.sum())


def zoo(n: int, level: float, seed: int, *, text: bool = True, ids: bool = True,
        many: bool = False) -> pd.DataFrame:
    """Every dtype family evidently's auto mode handles (or skips). ``level`` 0 is the
    reference distribution; 1 puts the shifted columns near their thresholds; 3 drifts them.
    ``many`` adds 3,000 Zipf categories (past the 1,000 that older profiles kept)."""
    rng = np.random.default_rng(seed)
    tilt = 0.05 * level

    def mix(k: int) -> np.ndarray:
        p = np.ones(k)
        p[0] += tilt * k
        return p / p.sum()

    f = rng.normal(0.1 * level, 1.0, n)
    gappy = rng.normal(0.0, 2.0, n)
    gappy[rng.uniform(size=n) < 0.05] = np.nan
    gappy[rng.uniform(size=n) < 0.002] = np.inf
    sentinel = rng.lognormal(0.0, 1.0, n)
    sentinel[rng.uniform(size=n) < 0.0005 * (1 + level)] = 99999.0
    df = pd.DataFrame({
        "f": f,
        "gappy": gappy,
        "sentinel": sentinel,
        "i2": rng.choice(2, n, p=mix(2)),
        "i5": rng.choice(5, n, p=mix(5)),
        "i10": np.where(rng.uniform(size=n) < 0.001, 10, rng.choice(10, n, p=mix(10))),
        "i15": rng.choice(15, n, p=mix(15)),
        "i_wide": rng.integers(0, 5000, n) + int(144 * level),  # 0.1 std a level
        "I64": pd.array(np.where(rng.uniform(size=n) < 0.05, None,
                                 rng.integers(0, 50, n)), dtype="Int64"),
        "F64": pd.array(rng.normal(0.2 * level, 1, n), dtype="Float64"),
        "boolean": pd.array(rng.uniform(size=n) < 0.5 + tilt, dtype="boolean"),
        "u8": rng.integers(0, 200, n).astype("uint8"),
        "b": rng.uniform(size=n) < 0.3 + tilt,
        "cat": pd.Categorical(rng.choice(list("abcd"), n, p=mix(4))),
        "obj": pd.Series(rng.choice(["x", "y", "z"], n, p=mix(3)), dtype=object),
        "s": pd.Series(rng.choice(["red", "green", "blue", "grey"], n, p=mix(4)), dtype="str"),
        "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
    })
    if many:
        df["many"] = zipf_choice(rng, 3000, n)
    if text:
        vocab = np.concatenate([WORDS, SHIFTED[: int(3 * level)]])
        df["txt"] = [" ".join(w) + f" #{i}" for i, w in
                     enumerate(rng.choice(vocab, (n, 6)))]
    if ids:
        df["ids"] = [f"u{x:07d}" for x in rng.permutation(10 * n)[:n]]
    return df


def assert_same_as_evidently(cur: pd.DataFrame, ref: pd.DataFrame, *, rel: float = 2e-3):
    expected, count = evidently_auto(cur, ref)
    ours = drift(cur, profile(ref))
    assert set(ours.columns) == set(expected), (set(ours.columns) ^ set(expected))
    for col, (method, value, thr) in expected.items():
        got = ours[col]
        assert got.stattest_display == method, (col, got.stattest_display, method)
        assert got.score == pytest.approx(value, rel=rel, abs=rel), (col, got.score, value)
        want = verdict(method, value, thr)
        if want is not None:
            assert got.drifted == want, (col, got.score, value)
    assert len(ours.drifted_columns) == count["count"]
    assert ours.share == pytest.approx(count["share"])
    return ours


# evidently's percentile text test bootstraps 1,000 random classifiers (about 10 s a column):
# the small size runs it once, on the drifted data
@pytest.mark.parametrize(("n_ref", "n_cur", "level", "text"), [
    pytest.param(800, 600, 0, False, id="small-undrifted"),
    pytest.param(800, 600, 1, False, id="small-near"),
    pytest.param(800, 600, 3, True, id="small-drifted"),
    pytest.param(5000, 3000, 0, True, id="mid-undrifted"),
    pytest.param(5000, 3000, 1, True, id="mid-near"),
    pytest.param(5000, 3000, 3, True, id="mid-drifted"),
])
def test_zoo_matches_evidently_auto_mode(n_ref, n_cur, level, text):
    ids = text and n_ref > 1000  # free text in the small regime once is enough
    ref = zoo(n_ref, 0, seed=1, text=text, ids=ids)
    cur = zoo(n_cur, level, seed=2, text=text, ids=ids)
    ours = assert_same_as_evidently(cur, ref)
    skipped = {f.column for f in ours.findings if f.code == "unsupported_column"}
    assert {"I64", "F64", "boolean", "u8", "when"} <= skipped
    if level == 3:
        assert {"f", "i_wide"} <= set(ours.drifted_columns)
        assert not text or "txt" in ours.drifted_columns
    if level == 0:
        assert not ours.dataset_drift


@pytest.mark.slow
def test_zoo_matches_evidently_with_a_500k_reference():
    """The regime where nbops works from sketches alone: exact categories past 1,000, sparse
    histograms under sentinels, typing from the current data; near the thresholds."""
    lean = ["gappy", "i2", "i5", "F64", "boolean", "u8", "obj", "when"]  # covered above
    ref = zoo(500_000, 0, seed=11, text=False, ids=False, many=True).drop(columns=lean)
    cur = zoo(20_000, 1, seed=13, text=False, ids=False, many=True).drop(columns=lean)
    ours = assert_same_as_evidently(cur, ref)
    assert ours["many"].stattest == "jensenshannon"  # 3,000 categories, exact on both sides
    same = drift(zoo(100_000, 0, seed=12, text=False, ids=False, many=True), profile(ref))
    assert not same.drifted_columns, same.to_dict()  # the same distribution: nothing drifts


def test_typing_follows_the_current_data():
    """An int column crossing 10 distinct values, and one gaining NaNs, change test with the
    current data, as in evidently."""
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"k": rng.integers(0, 12, 3000), "m": rng.integers(0, 4, 3000)})
    cur = pd.DataFrame({"k": rng.integers(0, 8, 2000),
                        "m": np.where(rng.uniform(size=2000) < 0.1, np.nan,
                                      rng.integers(0, 4, 2000))})
    assert profile(ref)["k"].kind == "numeric"
    ours = assert_same_as_evidently(cur, ref)
    assert ours["k"].kind == "categorical" and ours["m"].kind == "numeric"
    # a wide int column turned categorical: the reference counts come from its histogram,
    # which holds one whole number per bin
    ref = pd.DataFrame({"w": rng.integers(-10**6, 10**6, 3000)})
    cur = pd.DataFrame({"w": rng.integers(0, 3, 2000) * 1000})
    assert profile(ref)["w"].numeric.distinct is None
    assert assert_same_as_evidently(cur, ref)["w"].kind == "categorical"


def test_skipped_dtypes_are_tested_apart_on_request():
    ref, cur = zoo(3000, 0, seed=1, text=False), zoo(2000, 3, seed=2, text=False)
    plain = drift(cur, profile(ref))
    both = drift(cur, profile(ref), include_skipped=True)
    assert set(both.extra) == {"I64", "F64", "boolean", "u8"}
    assert both.columns.keys() == plain.columns.keys() and both.share == plain.share
    assert both["F64"].drifted and both["F64"].stattest == "wasserstein"
    assert both["I64"].kind == "numeric" and both["boolean"].kind == "categorical"
    m = both.to_metrics()
    assert m["drift.extra_columns_tested"] == 4.0 and "drift.F64.distance" in m
    assert m["drift.columns_tested"] == len(plain.columns)


def test_percentile_text_cutoff_is_evidentlys():
    """The random-classifier percentile nbops computes from ranks equals evidently's own."""
    from evidently.legacy.utils.data_drift_utils import roc_auc_random_classifier_percentile

    from nbops.monitoring.textdrift import _random_auc_percentile

    y = np.random.default_rng(1).integers(0, 2, 700)
    assert _random_auc_percentile(y, 0.05) == pytest.approx(
        roc_auc_random_classifier_percentile(y, p_value=0.05), abs=1e-12)
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    _random_auc_percentile(y, 0.05)
    assert (np.random.get_state()[1] == state).all()  # the global RNG is left alone
