"""Data and prediction drift against a reference profile, with evidently 0.7's verdicts.

``drift`` reads the current data chunk by chunk into a profile-like summary and compares each
column with the reference using the test evidently would choose (see
:mod:`nbops.monitoring.stattests`). The dataset drifts when the share of drifted columns
reaches ``drift_share`` (evidently's default: 0.5).

Example:
    >>> import numpy as np, pandas as pd
    >>> from nbops.monitoring import drift, profile
    >>> rng = np.random.default_rng(0)
    >>> ref = profile(pd.DataFrame({"x": rng.normal(size=5000)}))
    >>> res = drift(pd.DataFrame({"x": rng.normal(1.0, size=5000)}), ref)
    >>> res["x"].stattest, res["x"].drifted, res.dataset_drift
    ('wasserstein', True, True)
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nbops.exceptions import MonitoringError, UsageError, closest
from nbops.monitoring import stattests as st
from nbops.monitoring.profile import (
    DEFAULT_MAX_BINS,
    NumericSketch,
    Profile,
    _profile_frame,
)
from nbops.monitoring.quality import Finding, column_findings, schema_findings

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_DRIFT_SHARE", "ColumnDrift", "DriftResult", "drift", "prediction_drift"]

DEFAULT_DRIFT_SHARE = 0.5
METHODS = ("psi", "wasserstein", "jensenshannon", "chisquare", "z")
CURRENT_EXACT_LIMIT = 10_000
CURRENT_MAX_CATEGORIES = 100_000


def metric_key(name: str) -> str:
    """A column name made safe for an MLflow metric key."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)


@dataclass
class ColumnDrift:
    """Drift verdict for one column."""

    column: str
    kind: str
    stattest: str
    stattest_display: str
    score: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DriftResult:
    """Per-column verdicts, dataset verdict and data-quality findings.

    ``share`` counts drifted columns over *tested* columns; columns skipped because of a
    finding (missing, all-missing, changed type, text) are not in the denominator.
    """

    columns: dict[str, ColumnDrift]
    findings: list[Finding] = field(default_factory=list)
    drift_share: float = DEFAULT_DRIFT_SHARE
    rows_current: int = 0
    rows_reference: int = 0
    prefix: str = "drift"

    def __getitem__(self, column: str) -> ColumnDrift:
        try:
            return self.columns[column]
        except KeyError:
            from nbops.exceptions import NotFoundError

            raise NotFoundError(
                f"No drift result for column {column!r}.{closest(column, self.columns)} "
                f"Tested columns: {sorted(self.columns)}; see .findings for skipped ones."
            ) from None

    @property
    def drifted_columns(self) -> list[str]:
        return [c for c, r in self.columns.items() if r.drifted]

    @property
    def share(self) -> float:
        """Share of tested columns that drifted."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        """True when ``share >= drift_share`` (evidently's rule)."""
        return bool(self.columns) and self.share >= self.drift_share

    def to_metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow, e.g. ``{"drift.share": 0.4, "drift.age.score": 0.13}``."""
        p = self.prefix
        out: dict[str, float] = {
            f"{p}.share": self.share,
            f"{p}.dataset_drift": float(self.dataset_drift),
            f"{p}.columns_drifted": float(len(self.drifted_columns)),
            f"{p}.columns_tested": float(len(self.columns)),
        }
        for c, r in self.columns.items():
            out[f"{p}.{metric_key(c)}.score"] = float(r.score)
            out[f"{p}.{metric_key(c)}.drifted"] = float(r.drifted)
        for sev in ("error", "warning"):
            out[f"quality.{sev}s"] = float(sum(f.severity == sev for f in self.findings))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": self.share, "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share, "rows_current": self.rows_current,
            "rows_reference": self.rows_reference,
            "columns": {c: r.to_dict() for c, r in self.columns.items()},
            "findings": [f.to_dict() for f in self.findings],
        }


def _test_column(
    name: str, kind: str, ref_cp: Any, cur_cp: Any, ks: st.KSAccumulator | None,
    method: str | None, threshold: float | None,
) -> ColumnDrift:
    n_ref, n_cur = ref_cp.count, cur_cp.count
    rc, cc = ref_cp.category_counts(), cur_cp.category_counts()
    if kind == "numeric":
        n_values = len(set(rc) | set(cc)) if rc is not None and cc is not None else None
        if n_values is not None and n_values > 64:
            n_values = None
    else:
        n_values = len(set(rc) | set(cc))
    name_ = method or st.default_stattest(kind, n_ref, n_values)
    test = st.STATTESTS[name_]
    counts_path = kind == "categorical" or (n_values is not None and n_values <= 5)
    if name_ == "wasserstein" and kind != "numeric" or name_ in ("chisquare", "z") and (
        rc is None or cc is None
    ):
        raise UsageError(
            f"method={name_!r} does not apply to column {name!r} ({kind}). Use one of "
            f"{list(METHODS)} that fits, or method=None for evidently's default choice."
        )
    ref_num: NumericSketch | None = ref_cp.numeric
    cur_num: NumericSketch | None = cur_cp.numeric
    if name_ == "wasserstein":
        score = st.wasserstein_sketch(ref_num, cur_num)
    elif name_ == "ks":
        assert ks is not None and cur_num is not None
        score = ks.p_value(cur_num.values)
    elif name_ == "chisquare":
        score = st.chisquare_counts(rc, cc)
    elif name_ == "z":
        score = st.z_counts(rc, cc)
    elif name_ == "jensenshannon":
        if counts_path or ref_num is None:
            score = st.jensenshannon_counts(rc, cc)
        else:
            score = _jensenshannon_numeric(ref_num, cur_num)
    else:  # psi
        ref_distinct = ref_num.n_distinct if ref_num is not None else None
        if kind == "categorical" or (ref_distinct is not None and ref_distinct <= 20):
            score = st.psi_counts(rc, cc)
        else:
            score = st.psi_sketch(ref_num, cur_num)
    thr = test.threshold if threshold is None else threshold
    return ColumnDrift(name, kind, test.name, test.display_name, float(score), thr,
                       st.is_drifted(test, score, thr), n_ref, n_cur)


def _jensenshannon_numeric(ref: NumericSketch, cur: NumericSketch) -> float:
    """Forced Jensen–Shannon on a continuous column: Sturges bins, like evidently."""
    from scipy.spatial import distance

    n = ref.count + cur.count
    lo, hi = min(ref.min, cur.min), max(ref.max, cur.max)
    edges = np.linspace(lo, hi, int(math.ceil(math.log2(n)) + 1) + 1)
    return float(distance.jensenshannon(st._mass_between(ref, edges), st._mass_between(cur, edges)))


def drift(
    current: pd.DataFrame,
    reference: pd.DataFrame | Profile,
    columns: list[str] | None = None,
    method: str | None = None,
    *,
    threshold: float | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    chunk_size: int = 200_000,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column.

    ``reference`` is a :class:`Profile` (typically stored with the model version) or a
    DataFrame (profiled on the fly). ``method=None`` picks evidently 0.7's default test per
    column; ``method`` may force one of ``psi``, ``wasserstein``, ``jensenshannon``,
    ``chisquare``, ``z``; ``threshold`` overrides the test's default threshold.

    Problems with the data become ``findings`` (see :mod:`nbops.monitoring.quality`) and the
    affected columns are skipped. Raises :class:`MonitoringError` when ``current`` is empty or
    no column can be tested.

    Example:
        >>> import pandas as pd
        >>> from nbops.monitoring import drift
        >>> ref = pd.DataFrame({"c": ["a", "b", "c"] * 100})
        >>> drift(pd.DataFrame({"c": ["a"] * 300}), ref)["c"].stattest
        'chisquare'
    """
    import pandas as pd

    from nbops.monitoring.profile import profile as make_profile

    if method is not None and method not in METHODS:
        raise UsageError(f"Unknown drift method {method!r}.{closest(method, METHODS)} "
                         f"Allowed: {list(METHODS)} or None (evidently's defaults).")
    if not 0 < drift_share <= 1:
        raise UsageError(f"drift_share must be in (0, 1], got {drift_share}.")
    if not isinstance(current, pd.DataFrame):
        raise UsageError(f"drift() needs the current data as a pandas DataFrame, got "
                         f"{type(current).__name__}. For one model output use prediction_drift().")
    if isinstance(reference, pd.DataFrame):
        reference = make_profile(reference, chunk_size=chunk_size)
    elif not isinstance(reference, Profile):
        raise UsageError(f"reference must be a Profile or a DataFrame, got "
                         f"{type(reference).__name__}. Build one with nbops.monitoring.profile(df).")
    if len(current) == 0:
        raise MonitoringError(
            "The current data has no rows, so drift cannot be computed. Check the query or time "
            "window that selects it (nbops.monitoring.check() reports this as a finding).")
    if columns is not None:
        unknown = [c for c in columns if c not in reference.columns]
        if unknown:
            raise UsageError(
                f"Columns {unknown} are not in the reference profile."
                f"{closest(unknown[0], reference.columns)} Known: {sorted(reference.columns)}")
    wanted = list(reference.columns) if columns is None else list(columns)
    present = [c for c in current.columns if str(c) in set(wanted)]

    # one pass over the current data, chunk by chunk
    ks_acc: dict[str, st.KSAccumulator] = {}
    for c in present:
        rcp = reference.columns[str(c)]
        if rcp.numeric is not None and rcp.numeric.values is not None and rcp.numeric.count:
            ks_acc[str(c)] = st.KSAccumulator(rcp.numeric.values)
    ref_bins = max((cp.numeric.max_bins for cp in reference.columns.values() if cp.numeric),
                   default=DEFAULT_MAX_BINS)
    cur: Profile | None = None
    for start in range(0, len(current), chunk_size):
        chunk = current.iloc[start:start + chunk_size]
        part = _profile_frame(chunk, max_bins=ref_bins, max_categories=CURRENT_MAX_CATEGORIES,
                              exact_limit=CURRENT_EXACT_LIMIT, chunk_size=chunk_size,
                              columns=present)
        cur = part if cur is None else cur.merge(part)
        for c, acc in ks_acc.items():
            if part.columns[c].numeric is not None:
                acc.add(chunk[c].to_numpy(dtype=np.float64, na_value=np.nan))
    assert cur is not None

    sub_ref = Profile({c: reference.columns[c] for c in wanted}, reference.rows, reference.name)
    findings = schema_findings(sub_ref, _columns_only(current))
    if columns is not None:  # the caller chose the columns: extra ones are not news
        findings = [f for f in findings if f.code != "extra_column"]
    results: dict[str, ColumnDrift] = {}
    for name in wanted:
        if name not in cur.columns:
            continue
        rcp, ccp = reference.columns[name], cur.columns[name]
        col_findings, testable = column_findings(rcp, ccp)
        findings += col_findings
        if not testable:
            continue
        kind = "numeric" if rcp.kind == "numeric" else "categorical"
        results[name] = _test_column(name, kind, rcp, ccp, ks_acc.get(name), method, threshold)
    if not results:
        detail = "; ".join(f.message for f in findings if f.severity == "error") or "no columns"
        raise MonitoringError(f"No column could be tested for drift: {detail}")
    return DriftResult(results, findings, drift_share, len(current), reference.rows)


def _columns_only(df: pd.DataFrame) -> Profile:
    from nbops.monitoring.profile import ColumnProfile

    return Profile({str(c): ColumnProfile(str(c), str(df[c].dtype), "other") for c in df.columns},
                   len(df))


def prediction_drift(
    current: Any,
    reference: Any,
    column: str = "prediction",
    method: str | None = None,
    *,
    threshold: float | None = None,
) -> DriftResult:
    """Drift of a model output: a Series, array, or a DataFrame/Profile holding ``column``.

    Metrics come out under ``prediction_drift.`` (e.g. ``prediction_drift.prediction.score``).

    Example:
        >>> import numpy as np
        >>> from nbops.monitoring import prediction_drift
        >>> rng = np.random.default_rng(1)
        >>> r = prediction_drift(rng.uniform(size=2000), rng.uniform(0.3, 1.3, size=2000))
        >>> r["prediction"].drifted
        True
    """
    import pandas as pd

    def frame(x: Any) -> Any:
        if isinstance(x, Profile):
            return Profile({column: x[column]}, x.rows, x.name)
        if isinstance(x, pd.DataFrame):
            if column not in x.columns:
                raise UsageError(f"Column {column!r} is not in the DataFrame.{closest(column, x.columns)}"
                                 " Pass column=<name of the model output column>.")
            return x[[column]]
        return pd.Series(np.asarray(x) if not isinstance(x, pd.Series) else x).rename(column).to_frame()

    res = drift(frame(current), frame(reference), method=method, threshold=threshold)
    res.prefix = "prediction_drift"
    return res
