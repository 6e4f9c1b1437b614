"""Drift statistics computed from sketches, with evidently 0.7.23's defaults.

evidently's default choice (``evidently.legacy.calculations.stattests.registry.
_get_default_stattest``), where *n* is the reference column's non-missing, finite row count
and *k* the number of distinct values in reference and current together:

==========================  =======================  ===================================
column                      n <= 1,000               n > 1,000
==========================  =======================  ===================================
numeric, k > 5              ``ks`` (p <= 0.05)        ``wasserstein`` normed (>= 0.1)
numeric, 2 < k <= 5         ``chisquare`` (p < 0.05)  ``jensenshannon`` (>= 0.1)
numeric, k <= 2             ``z`` (p < 0.05)          ``jensenshannon`` (>= 0.1)
categorical, k > 2          ``chisquare`` (p < 0.05)  ``jensenshannon`` (>= 0.1)
categorical, k <= 2         ``z`` (p < 0.05)          ``jensenshannon`` (>= 0.1)
==========================  =======================  ===================================

p-value tests flag drift when the p-value is below the threshold, distances when the distance
reaches it. ``psi`` (>= 0.1) is available on request.

Example:
    >>> from nbops.monitoring.stattests import STATTESTS, default_stattest
    >>> default_stattest("numeric", n_reference=5000, n_values=None)
    'wasserstein'
    >>> STATTESTS["ks"].threshold
    0.05
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nbops.monitoring.profile import EXACT_LIMIT, NumericSketch

__all__ = ["STATTESTS", "StatTest", "default_stattest", "is_drifted"]


@dataclass(frozen=True)
class StatTest:
    """A drift statistic: evidently's name and display name, default threshold, direction."""

    name: str
    display_name: str
    threshold: float
    p_value: bool
    inclusive: bool = False
    """For p-values: drift when p <= threshold (KS) instead of p < threshold."""


STATTESTS: dict[str, StatTest] = {
    "wasserstein": StatTest("wasserstein", "Wasserstein distance (normed)", 0.1, False),
    "jensenshannon": StatTest("jensenshannon", "Jensen-Shannon distance", 0.1, False),
    "psi": StatTest("psi", "PSI", 0.1, False),
    "ks": StatTest("ks", "K-S p_value", 0.05, True, inclusive=True),
    "chisquare": StatTest("chisquare", "chi-square p_value", 0.05, True),
    "z": StatTest("z", "Z-test p_value", 0.05, True),
}


def is_drifted(test: StatTest, score: float, threshold: float) -> bool:
    """evidently's verdict for a score under ``threshold``."""
    if test.p_value:
        return bool(score <= threshold) if test.inclusive else bool(score < threshold)
    return bool(score >= threshold)


def default_stattest(kind: str, n_reference: int, n_values: int | None) -> str:
    """evidently 0.7's default test for a column (``n_values`` None means "more than 64")."""
    many = n_values is None
    if n_reference <= EXACT_LIMIT:
        if kind == "numeric" and (many or n_values > 5):
            return "ks"
        return "z" if (not many and n_values <= 2) else "chisquare"
    if kind == "numeric" and (many or n_values > 5):
        return "wasserstein"
    return "jensenshannon"


# ---------------------------------------------------------------------------------------------
# count based tests (categorical columns and numeric columns with few values)


def _aligned(ref: Mapping[Any, int], cur: Mapping[Any, int]) -> tuple[np.ndarray, np.ndarray]:
    keys = list(set(ref) | set(cur))
    return (np.array([ref.get(k, 0) for k in keys], dtype=np.float64),
            np.array([cur.get(k, 0) for k in keys], dtype=np.float64))


def _fill_zeroes(p: np.ndarray) -> np.ndarray:
    nz = p[p != 0]
    low = nz.min()
    fill = low / 10**6 if low <= 0.0001 else 0.0001
    return np.where(p == 0, fill, p)


def chisquare_counts(ref: Mapping[Any, int], cur: Mapping[Any, int]) -> float:
    """p-value of evidently's chi-square test (reference counts scaled to the current size)."""
    from scipy.stats import chisquare

    r, c = _aligned(ref, cur)
    f_exp = r * (c.sum() / r.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(chisquare(c, f_exp)[1])


def z_counts(ref: Mapping[Any, int], cur: Mapping[Any, int]) -> float:
    """p-value of evidently's two-proportion Z-test (on the first of the sorted values)."""
    from scipy.stats import norm

    r_keys = [k for k, v in ref.items() if v]
    c_keys = [k for k, v in cur.items() if v]
    if len(r_keys) == 1 and len(c_keys) == 1 and r_keys[0] == c_keys[0]:
        return 1.0
    first = sorted(set(r_keys) | set(c_keys))[0]
    n1, n2 = sum(ref.values()), sum(cur.values())
    p1 = (n1 - ref.get(first, 0)) / n1
    p2 = (n2 - cur.get(first, 0)) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def jensenshannon_counts(ref: Mapping[Any, int], cur: Mapping[Any, int]) -> float:
    """Jensen–Shannon distance (natural log) between two sets of value counts."""
    from scipy.spatial import distance

    r, c = _aligned(ref, cur)
    return float(distance.jensenshannon(r / r.sum(), c / c.sum()))


def psi_counts(ref: Mapping[Any, int], cur: Mapping[Any, int]) -> float:
    """Population stability index between two sets of value counts."""
    r, c = _aligned(ref, cur)
    return _psi(r / r.sum(), c / c.sum())


def _psi(r: np.ndarray, c: np.ndarray) -> float:
    r, c = _fill_zeroes(r), _fill_zeroes(c)
    return float(np.sum((r - c) * np.log(r / c)))


# ---------------------------------------------------------------------------------------------
# histogram based tests (numeric columns)


def _cdf_at(e: np.ndarray, c: np.ndarray, x: np.ndarray, side: str) -> np.ndarray:
    """Right limit (side='right') or left limit (side='left') of the CDF at ``x``."""
    i = np.searchsorted(e, x, side=side) - 1
    m = e.size - 1
    ic = np.clip(i, 0, m - 1)
    width = e[ic + 1] - e[ic]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(width > 0, (x - e[ic]) / width, 1.0)
    val = c[ic] + (c[ic + 1] - c[ic]) * np.clip(frac, 0.0, 1.0)
    return np.where(i < 0, 0.0, np.where(i >= m, 1.0, val))


def wasserstein_sketch(ref: NumericSketch, cur: NumericSketch) -> float:
    """Wasserstein-1 distance / max(std(reference), 0.001), as evidently's ``wasserstein``.

    Exact when both sketches still hold their values or their distinct values; otherwise
    W1 = ∫|F_ref − F_cur| dx with each CDF linear inside a histogram bin, within
    :func:`wasserstein_error` of the exact score.
    """
    norm = max(ref.std, 0.001)
    if ref.values is not None and cur.values is not None:
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(ref.values, cur.values) / norm)
    if ref.distinct is not None and cur.distinct is not None:
        from scipy.stats import wasserstein_distance

        (ru, rw), (cu, cw) = (
            (np.array(list(d), dtype=np.float64), np.array(list(d.values()), dtype=np.float64))
            for d in (ref.distinct, cur.distinct))
        return float(wasserstein_distance(ru, cu, rw, cw) / norm)
    er, cr = ref.knots()
    ec, cc = cur.knots()
    x = np.unique(np.concatenate([er, ec]))
    a, b = x[:-1], x[1:]
    d0 = _cdf_at(er, cr, a, "right") - _cdf_at(ec, cc, a, "right")
    d1 = _cdf_at(er, cr, b, "left") - _cdf_at(ec, cc, b, "left")
    length = b - a
    same = d0 * d1 >= 0
    s = np.abs(d0) + np.abs(d1)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(s > 0, (d0 * d0 + d1 * d1) / (2 * s), 0.0)
    area = np.where(same, s / 2, crossing) * length
    return float(area.sum() / norm)


def wasserstein_error(ref: NumericSketch, cur: NumericSketch) -> float:
    """Largest possible difference between :func:`wasserstein_sketch` and the exact score.

    Spreading a bin's values uniformly over the bin moves each value by at most the bin width,
    half of it on average: the histogram's W1 is within (w_ref + w_cur) / 2 of the exact one,
    whatever the outliers (0 where the score is exact).
    """
    if ref.values is not None and cur.values is not None or (
        ref.distinct is not None and cur.distinct is not None
    ):
        return 0.0
    return (ref.bin_width + cur.bin_width) / 2 / max(ref.std, 0.001)


def _mass_between(sk: NumericSketch, edges: np.ndarray) -> np.ndarray:
    e, c = sk.knots()
    f = _cdf_at(e, c, edges, "left")
    f[-1] = 1.0  # numpy histograms close the last bin
    return np.diff(f)


def psi_sketch(ref: NumericSketch, cur: NumericSketch) -> float:
    """PSI on evidently's bins (Sturges' rule over reference and current together).

    Bin masses come from the fine histograms, so PSI is approximate where a Sturges edge
    falls inside a fine bin.
    """
    n = ref.count + cur.count
    lo, hi = min(ref.min, cur.min), max(ref.max, cur.max)
    n_bins = int(math.ceil(math.log2(n)) + 1)
    edges = np.linspace(lo, hi, n_bins + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])
    return _psi(_mass_between(ref, edges), _mass_between(cur, edges))


# ---------------------------------------------------------------------------------------------
# Kolmogorov–Smirnov with an exact reference


class KSAccumulator:
    """Streams current values against the (at most 1,000) exact reference values.

    The two-sample KS statistic only needs, for every distinct reference value ``u``, how many
    current values are ``<= u`` and ``< u``; the p-value follows scipy's ``ks_2samp``
    ('auto': exact when both samples have at most 10,000 values, asymptotic otherwise).
    """

    def __init__(self, ref_values: np.ndarray) -> None:
        self.ref = np.sort(np.asarray(ref_values, dtype=np.float64))
        self.u = np.unique(self.ref)
        self.le = np.zeros(self.u.size, dtype=np.int64)
        self.lt = np.zeros(self.u.size, dtype=np.int64)
        self.n = 0

    def add(self, values: np.ndarray) -> None:
        v = np.sort(values[np.isfinite(values)])
        self.le += np.searchsorted(v, self.u, side="right")
        self.lt += np.searchsorted(v, self.u, side="left")
        self.n += v.size

    def p_value(self, cur_values: np.ndarray | None) -> float:
        from scipy.stats import kstwo

        if cur_values is not None and cur_values.size <= 10_000:
            from scipy.stats import ks_2samp

            return float(ks_2samp(self.ref, cur_values)[1])
        n1, n2 = self.ref.size, self.n
        fr = np.searchsorted(self.ref, self.u, side="right") / n1
        fr_prev = np.concatenate([[0.0], fr[:-1]])
        d = max(float(np.max(fr - self.le / n2)), float(np.max(self.lt / n2 - fr_prev)), 0.0)
        m, n = sorted([float(n1), float(n2)], reverse=True)
        en = m * n / (m + n)
        return float(np.clip(kstwo.sf(d, np.round(en)), 0, 1))
