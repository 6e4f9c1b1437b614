"""Profiles: exact merges, associativity, JSON round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbops.exceptions import NotFoundError, UsageError
from nbops.monitoring import Profile, profile


def _exact(p: Profile) -> dict:
    """Everything in a profile that must be bit-identical across merge orders."""
    d = p.to_dict()
    d.pop("created_at")
    for c in d["columns"].values():
        if c["numeric"]:
            c["numeric"].pop("mean")
            c["numeric"].pop("m2")
    return d


def test_merge_is_associative_and_equals_whole(frame_factory):
    df = frame_factory(9000, 0.0, seed=5)
    a, b, c = (profile(df.iloc[i:i + 3000]) for i in (0, 3000, 6000))
    left, right = a.merge(b).merge(c), a.merge(b.merge(c))
    whole = profile(df, chunk_size=1000)
    assert _exact(left) == _exact(right) == _exact(whole)
    for col in ("n0", "lognorm", "gappy"):
        for p in (left, right):
            assert p[col].numeric.mean == pytest.approx(df[col].mean())
            assert p[col].numeric.std == pytest.approx(np.nanstd(df[col].to_numpy()))
    assert left.rows == 9000


def test_merge_of_very_different_ranges_stays_bounded():
    a = profile(pd.DataFrame({"x": np.linspace(0, 1, 5000)}), max_bins=256)
    b = profile(pd.DataFrame({"x": np.linspace(1e6, 1e6 + 1, 5000)}), max_bins=256)
    m = a.merge(b)
    assert m["x"].numeric.counts.size <= 256
    assert m["x"].numeric.counts.sum() == 10000
    assert m["x"].numeric.min == 0 and m["x"].numeric.max == 1e6 + 1


def test_json_round_trip(tmp_path, frame_factory):
    p = profile(frame_factory(3000, 0.0, seed=1), name="train")
    q = Profile.load(p.save(tmp_path / "profile.json"))
    assert _exact(q) == _exact(p)
    assert q.schema == p.schema and q.kinds == p.kinds and q.name == "train"
    assert len(p.to_json()) < 200_000


def test_small_column_keeps_exact_values_and_distinct():
    p = profile(pd.DataFrame({"x": [3.0, 1.0, 2.0, np.nan, np.inf], "k": [1, 1, 2, 2, 2]}))
    x = p["x"].numeric
    assert x.values.tolist() == [1.0, 2.0, 3.0]
    assert (x.count, x.missing, x.infinite) == (3, 1, 1)
    assert p["k"].numeric.distinct == {1: 2, 2: 3} and p["k"].kind == "categorical"


def test_categorical_cap_folds_into_other():
    s = pd.Series([f"v{i % 50}" for i in range(1000)])
    p = profile(s.to_frame("c"), max_categories=10)
    cat = p["c"].categorical
    assert len(cat.counts) == 10 and cat.other == 800 and cat.overflowed


def test_text_and_unsupported_kinds():
    df = pd.DataFrame({"t": [f"id{i}" for i in range(100)],
                       "d": pd.date_range("2026-01-01", periods=100)})
    p = profile(df)
    assert p["t"].kind == "text" and p["d"].kind == "unsupported"


def test_errors_say_what_to_do():
    with pytest.raises(UsageError, match="DataFrame"):
        profile(pd.Series([1.0]))
    p = profile(pd.DataFrame({"age": [1.0]}))
    with pytest.raises(NotFoundError, match="age"):
        p["agee"]
    with pytest.raises(UsageError, match="different columns"):
        p.merge(profile(pd.DataFrame({"other": [1.0]})))
    with pytest.raises(UsageError, match="format"):
        Profile.from_json('{"format": "x"}')


def test_histogram_keeps_its_resolution_under_sentinels():
    """A handful of far values must not coarsen the bins of the bulk of the data: the score
    stays within the stated bound of the exact Wasserstein distance, and that bound is tiny."""
    from scipy.stats import wasserstein_distance

    from nbops.monitoring import drift
    from nbops.monitoring.stattests import wasserstein_error

    rng = np.random.default_rng(3)
    ref = rng.normal(10, 1, 200_000)
    ref[:20] = -99999.0  # sentinels in the reference too
    cur = rng.normal(10.05, 1, 150_000)
    cur[:7] = 99999.0
    p_ref, p_cur = profile(pd.DataFrame({"x": ref})), profile(pd.DataFrame({"x": cur}))
    assert p_ref["x"].numeric.bin_width < 0.01 and p_cur["x"].numeric.bin_width < 0.01
    exact = wasserstein_distance(ref, cur) / np.std(ref)
    got = drift(pd.DataFrame({"x": cur}), p_ref)["x"]
    bound = wasserstein_error(p_ref["x"].numeric, p_cur["x"].numeric)
    assert abs(got.score - exact) <= bound < 1e-4


def test_heavy_tails_within_the_stated_bound():
    from scipy.stats import wasserstein_distance

    from nbops.monitoring.stattests import wasserstein_error, wasserstein_sketch

    rng = np.random.default_rng(4)
    ref, cur = rng.standard_t(1.5, 300_000), rng.standard_t(1.5, 300_000) * 1.1
    a, b = profile(pd.DataFrame({"x": ref}))["x"].numeric, profile(pd.DataFrame({"x": cur}))["x"].numeric
    exact = wasserstein_distance(ref, cur) / np.std(ref)
    assert abs(wasserstein_sketch(a, b) - exact) <= wasserstein_error(a, b)


def test_categories_past_the_cap_merge_and_count_distinct():
    rng = np.random.default_rng(6)
    s = pd.Series([f"u{x}" for x in rng.integers(0, 30_000, 60_000)])
    whole = profile(s.to_frame("c"), max_categories=500)["c"].categorical
    parts = [profile(s.iloc[i:i + 20_000].to_frame("c"), max_categories=500)["c"].categorical
             for i in (0, 20_000, 40_000)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    exact = s.nunique()
    for sk in (whole, merged):
        assert sk.overflowed and len(sk.counts) == 500 and sk.count == 60_000
        assert abs(sk.n_distinct - exact) < 0.03 * exact
        assert sum(sk.counts.values()) + sk.other == 60_000


def test_text_columns_keep_a_sample_in_row_order_then_a_stable_bottom_k():
    texts = pd.Series([f"review number {i}" for i in range(12_000)], dtype="str")
    small = profile(texts.iloc[:300].to_frame("t"))["t"].categorical.texts
    assert small.texts == texts.iloc[:300].tolist() and not small.sampled
    whole = profile(texts.to_frame("t"))["t"].categorical.texts
    merged = (profile(texts.iloc[:7000].to_frame("t"))["t"].categorical
              .merge(profile(texts.iloc[7000:].to_frame("t"))["t"].categorical)).texts
    assert whole.sampled and len(whole.texts) == 5000
    assert sorted(whole.texts) == sorted(merged.texts)


V1_PROFILE = (  # written by nbops' format 1 (dense histograms): stored references keep working
    '{"format": "nbops.profile", "version": 1, "name": "old", "rows": 4, "created_at": '
    '"2026-11-01T00:00:00+00:00", "columns": {"x": {"dtype": "float64", "family": "float", '
    '"kind": "numeric", "numeric": {"count": 4, "missing": 0, "infinite": 0, "mean": 1.625, '
    '"m2": 3.1875, "min": 0.5, "max": 3.0, "shift": -11, "offset": 1024, "counts": '
    '"eJztzrENAAAIwzDK/0ez8AMSspesSQEAAAAAAAAAAAAAAAAAAADX+noAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAey'
    'HYAAEYABQ==", "distinct": [[0.5, 1], [1.5, 2], [3, 1]], "values": '
    '"eJxjYACBB/ZgiuEHGs3hAAA+3QPW", "max_bins": 8192, "exact_limit": 1000}, "categorical": '
    'null}, "c": {"dtype": "str", "family": "string", "kind": "text", "numeric": null, '
    '"categorical": {"count": 3, "missing": 1, "counts": [["a", 2], ["b", 1]], "other": 0, '
    '"max_categories": 1000, "distinct_seen": 2}}}}')


def test_format_1_profiles_are_upgraded_on_load():
    from nbops.monitoring import drift

    old = Profile.from_json(V1_PROFILE)
    new = profile(pd.DataFrame({"x": [0.5, 1.5, 1.5, 3.0], "c": ["a", "b", "a", None]}))
    x_old, x_new = old["x"].numeric, new["x"].numeric
    assert x_old.counts.sum() == 4 and x_old.values.tolist() == x_new.values.tolist()
    assert old["c"].category_counts() == new["c"].category_counts() == {"a": 2, "b": 1}
    assert old.to_dict()["version"] == 2 and old["c"].rows == 4
    cur = pd.DataFrame({"x": [0.5, 1.5, 3.0] * 10, "c": ["a", "b", "a"] * 10})
    assert drift(cur, old)["x"].score == drift(cur, new)["x"].score
