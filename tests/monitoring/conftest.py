"""Synthetic reference/current data shared by the monitoring tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

NUMERIC = ["n0", "n1", "n2", "n3", "lognorm", "few", "binary", "gappy"]
CATEGORICAL = ["c3", "c2", "small_int"]


def make_frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    """Columns covering every branch of evidently's default test choice.

    ``shift`` moves n1, n3, lognorm, gappy and the c3 mix; the other columns never drift.
    """
    rng = np.random.default_rng(seed)
    p3 = [0.5, 0.3, 0.2] if shift == 0 else [0.3, 0.3, 0.4]
    return pd.DataFrame({
        "n0": rng.normal(0, 1, n),
        "n1": rng.normal(shift, 1, n),
        "n2": rng.uniform(-3, 3, n),
        "n3": rng.normal(10 + shift, 2, n),
        "lognorm": rng.lognormal(0.3 * shift, 1, n),
        "few": rng.integers(0, 4, n).astype(float),
        "binary": rng.integers(0, 2, n).astype(float),
        "gappy": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.normal(0.3 * shift, 1, n)),
        "c3": rng.choice(["a", "b", "c"], n, p=p3),
        "c2": rng.choice(["x", "y"], n),
        "small_int": rng.integers(0, 5, n),
    })


@pytest.fixture(scope="session")
def frame_factory():
    """The :func:`make_frame` function, as a fixture."""
    return make_frame


@pytest.fixture(scope="session")
def column_kinds():
    """(numeric columns, categorical columns) of :func:`make_frame`."""
    return NUMERIC, CATEGORICAL
