"""Properties that hold for any data: identical data never drifts; histograms do not depend on
how the data was chunked."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbops.monitoring import drift, profile

DTYPES = ["float", "int", "Int64", "uint8", "Float64", "boolean", "bool", "category", "str",
          "object", "text"]


def column(kind: str, n: int, distinct: int, missing: float, outliers: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    codes = rng.zipf(1.3, n) % distinct if distinct > 1 else np.zeros(n, dtype=np.int64)
    holes = rng.uniform(size=n) < missing
    if kind == "float":
        x = rng.standard_t(2, n) * 10.0 ** rng.integers(-3, 6)
        x[: min(outliers, n)] = 99999.0
        x[holes] = np.nan
        if n > 3:
            x[3] = np.inf
        return pd.Series(x)
    if kind in ("int", "uint8"):
        return pd.Series(codes).astype("int64" if kind == "int" else "uint8")
    if kind == "Int64":
        return pd.Series(pd.array(np.where(holes, None, codes), dtype="Int64"))
    if kind == "Float64":
        return pd.Series(pd.array(np.where(holes, None, codes * 0.5), dtype="Float64"))
    if kind in ("bool", "boolean"):
        b = codes % 2 == 0
        return pd.Series(b) if kind == "bool" else pd.Series(
            pd.array(np.where(holes, None, b), dtype="boolean"))
    labels = np.array([f"v{c}" for c in codes], dtype=object)
    if kind == "text":
        words = np.array("alpha beta gamma delta eps zeta eta theta iota kappa".split())
        labels = np.array([" ".join(rng.choice(words, 4)) + f" {c}" for c in codes], dtype=object)
    labels[holes] = None
    if kind == "category":
        return pd.Series(pd.Categorical(labels))
    return pd.Series(labels, dtype="str" if kind in ("str", "text") else object)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(DTYPES), min_size=1, max_size=4),
    n=st.integers(1, 4000),
    distinct=st.integers(1, 6000),
    missing=st.sampled_from([0.0, 0.01, 0.3]),
    outliers=st.integers(0, 5),
    chunk_size=st.sampled_from([7, 500, 200_000]),
    max_categories=st.sampled_from([3, 50, 10_000]),
    seed=st.integers(0, 2**32 - 1),
)
def test_identical_data_never_drifts(kinds, n, distinct, missing, outliers, chunk_size,
                                     max_categories, seed):
    df = pd.DataFrame({f"{k}_{i}": column(k, n, distinct, missing, outliers, seed + i)
                       for i, k in enumerate(kinds)})
    ref = profile(df, chunk_size=chunk_size, max_categories=max_categories)
    try:
        res = drift(df, ref, include_skipped=True)
    except Exception as e:  # only "nothing testable" (e.g. all values missing) is allowed
        assert "No column could be tested" in str(e), e
        return
    for r in [*res.columns.values(), *res.extra.values()]:
        assert not r.drifted, r
        if r.score_kind == "distance":
            assert r.score < 1e-9, r
    assert not res.dataset_drift


@settings(max_examples=40, deadline=None, database=None)
@given(
    shape=st.sampled_from(["normal", "lognormal", "integers", "sentinels", "few", "cauchy"]),
    n=st.integers(1, 20_000),
    max_bins=st.sampled_from([16, 256, 8192]),
    chunk_size=st.integers(1, 20_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_histogram_does_not_depend_on_chunking(shape, n, max_bins, chunk_size, seed):
    rng = np.random.default_rng(seed)
    x = {"normal": lambda: rng.normal(size=n), "lognormal": lambda: rng.lognormal(0, 2, n),
         "integers": lambda: rng.integers(-1000, 1000, n).astype(float),
         "sentinels": lambda: np.where(rng.uniform(size=n) < 0.001, 99999.0, rng.normal(size=n)),
         "few": lambda: rng.choice([0.1, 0.25, 7.5], n),
         "cauchy": lambda: rng.standard_cauchy(n) * 1e-5}[shape]()
    df = pd.DataFrame({"x": x})
    whole = profile(df, max_bins=max_bins)["x"].numeric
    chunked = profile(df, max_bins=max_bins, chunk_size=chunk_size)["x"].numeric
    assert whole.shift == chunked.shift
    assert whole.index.tolist() == chunked.index.tolist()
    assert whole.counts.tolist() == chunked.counts.tolist()
    assert whole.index.size <= max_bins and whole.counts.sum() == n
