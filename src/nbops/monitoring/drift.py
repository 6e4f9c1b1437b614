"""Data and prediction drift against a reference profile, with evidently 0.7's verdicts.

``drift`` types each column of the *current* data by evidently's auto-mode rules (see
:mod:`nbops.monitoring.coltypes`), summarises it, and compares it with the reference profile
using the test evidently would choose (see :mod:`nbops.monitoring.stattests` and
:mod:`nbops.monitoring.textdrift`). The dataset drifts when the share of drifted columns
reaches ``drift_share`` (evidently's default: 0.5).

Columns evidently's auto mode skips (nullable ``Int64``/``Float64``/``boolean`` and unsigned
integers) are tested only with ``include_skipped=True``, and then reported apart
(:attr:`DriftResult.extra`), so that the share stays evidently's.

Where the reference profile folded rare categories into ``__other__`` (more than
``max_categories`` distinct values), the current data is folded onto the same kept
categories, so identical data scores 0; a score on folded categories is never above the exact
one (merging categories cannot increase the Jensen–Shannon distance).

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
from nbops.monitoring.coltypes import DRIFT_TYPES, evidently_type, extended_type
from nbops.monitoring.profile import (
    DEFAULT_MAX_BINS,
    OTHER,
    ColumnProfile,
    NumericSketch,
    Profile,
    column_profile,
    norm_key,
)
from nbops.monitoring.quality import MISSING_RATE_JUMP, Finding, schema_findings

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_DRIFT_SHARE", "ColumnDrift", "DriftResult", "drift", "prediction_drift"]

DEFAULT_DRIFT_SHARE = 0.5
METHODS = ("psi", "wasserstein", "jensenshannon", "chisquare", "z")
CURRENT_EXACT_LIMIT = 10_000
TEXT_SAMPLE_SIZE = 5000


def metric_key(name: str) -> str:
    """A column name made safe for an MLflow metric key."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)


@dataclass
class ColumnDrift:
    """Drift verdict for one column.

    ``score`` is what evidently reports: a p-value for ``ks``, ``chisquare`` and ``z`` (drift
    when *below* the threshold), a distance for ``wasserstein``, ``jensenshannon`` and
    ``psi``, the domain classifier's ROC AUC for text (drift when *above*).
    """

    column: str
    kind: str
    stattest: str
    stattest_display: str
    score: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int

    @property
    def score_kind(self) -> str:
        """'p_value', 'distance' or 'roc_auc': what ``score`` measures."""
        if self.stattest in st.STATTESTS:
            return "p_value" if st.STATTESTS[self.stattest].p_value else "distance"
        return "roc_auc"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score_kind": self.score_kind}


@dataclass
class DriftResult:
    """Per-column verdicts, dataset verdict and data-quality findings.

    ``share`` counts drifted columns over *tested* columns; columns skipped because of a
    finding (missing, all-missing, changed type, a dtype evidently skips) are not in the
    denominator. ``extra`` holds the columns evidently skips that were tested on request
    (``include_skipped=True``); they never count in the share.
    """

    columns: dict[str, ColumnDrift]
    findings: list[Finding] = field(default_factory=list)
    drift_share: float = DEFAULT_DRIFT_SHARE
    rows_current: int = 0
    rows_reference: int = 0
    prefix: str = "drift"
    extra: dict[str, ColumnDrift] = field(default_factory=dict)

    def __getitem__(self, column: str) -> ColumnDrift:
        if column in self.columns:
            return self.columns[column]
        if column in self.extra:
            return self.extra[column]
        from nbops.exceptions import NotFoundError

        known = [*self.columns, *self.extra]
        raise NotFoundError(
            f"No drift result for column {column!r}.{closest(column, known)} "
            f"Tested columns: {sorted(known)}; see .findings for skipped ones.")

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
        """Flat metrics for MLflow, e.g. ``{"drift.share": 0.4, "drift.age.distance": 0.13}``.

        Per column: ``<prefix>.<column>.drifted`` (0 or 1), ``.score``, and the score again
        under what it measures: ``.p_value``, ``.distance`` or ``.roc_auc``.
        """
        p = self.prefix
        out: dict[str, float] = {
            f"{p}.share": self.share,
            f"{p}.dataset_drift": float(self.dataset_drift),
            f"{p}.columns_drifted": float(len(self.drifted_columns)),
            f"{p}.columns_tested": float(len(self.columns)),
        }
        if self.extra:
            out[f"{p}.extra_columns_tested"] = float(len(self.extra))
            out[f"{p}.extra_columns_drifted"] = float(sum(r.drifted for r in self.extra.values()))
        for c, r in [*self.columns.items(), *self.extra.items()]:
            key = f"{p}.{metric_key(c)}"
            out[f"{key}.score"] = float(r.score)
            out[f"{key}.{r.score_kind}"] = float(r.score)
            out[f"{key}.drifted"] = float(r.drifted)
        for sev in ("error", "warning"):
            out[f"quality.{sev}s"] = float(sum(f.severity == sev for f in self.findings))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": self.share, "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share, "rows_current": self.rows_current,
            "rows_reference": self.rows_reference,
            "columns": {c: r.to_dict() for c, r in self.columns.items()},
            "extra": {c: r.to_dict() for c, r in self.extra.items()},
            "findings": [f.to_dict() for f in self.findings],
        }


# ---------------------------------------------------------------------------------------------
# one column


@dataclass
class _Current:
    """What drift needs from one current column."""

    type: str  # 'numeric' | 'categorical' | 'text'
    count: int
    missing: int
    numeric: NumericSketch | None = None
    counts: dict[Any, int] | None = None
    texts: list[str] | None = None
    values: np.ndarray | None = None  # finite values, for KS
    dtype_name: str = ""


def _bottom_k(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` in row order when at most ``k``, else the ``k`` with the smallest hashes."""
    from nbops.monitoring.sketches import hash_values

    if values.size <= k:
        return values
    return values[np.sort(np.argsort(hash_values(values), kind="stable")[:k])]


def _read_current(s: pd.Series, ref: ColumnProfile, include_skipped: bool, *, max_bins: int,
                  chunk_size: int) -> tuple[_Current | None, str, bool]:
    """(summary or None, type, is_extra): the column typed by evidently's rules, summarised
    only as far as its test needs."""
    import pandas as pd

    dt = s.dtype
    name = str(dt)
    numeric_like = pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)
    sketch = n_distinct = None
    if numeric_like:
        sketch = column_profile(ref.name, s, max_bins=max_bins, exact_limit=CURRENT_EXACT_LIMIT,
                                chunk_size=chunk_size).numeric
        assert sketch is not None
        n_distinct = 65 if sketch.n_distinct is None else sketch.n_distinct  # ">64" is enough
    elif dt.name in ("str", "string", "object"):
        n_distinct = int(s.nunique())
    ctype = evidently_type(s, n_distinct)
    extra = False
    if ctype not in DRIFT_TYPES and include_skipped:
        ctype, extra = extended_type(s, n_distinct), True
    if ctype not in DRIFT_TYPES:
        return None, ctype, False
    missing = int(s.isna().sum())
    if ctype == "numeric":
        assert sketch is not None
        return _Current("numeric", sketch.count, sketch.missing, numeric=sketch,
                        dtype_name=name), ctype, extra
    if ctype == "categorical":
        if sketch is not None:
            counts = sketch.value_counts() or {}
            return _Current("categorical", sketch.count, sketch.missing, numeric=sketch,
                            counts=counts, dtype_name=name), ctype, extra
        vc = s.value_counts(dropna=True, sort=False)
        counts = {}
        for k, v in zip(vc.index.tolist(), vc.to_numpy().tolist(), strict=True):
            if v:
                key = norm_key(k)
                counts[key] = counts.get(key, 0) + int(v)
        return _Current("categorical", int(sum(counts.values())), missing, counts=counts,
                        dtype_name=name), ctype, extra
    texts = s.dropna().to_numpy(dtype=object)
    sample = [str(t) for t in _bottom_k(texts, TEXT_SAMPLE_SIZE)]
    return _Current("text", int(texts.size), missing, texts=sample, dtype_name=name), ctype, extra


def _missing_rate(name: str, ref: ColumnProfile, cur: _Current) -> list[Finding]:
    ref_total, cur_total = ref.count + ref.missing, cur.count + cur.missing
    if not (ref_total and cur_total):
        return []
    ref_rate, cur_rate = ref.missing / ref_total, cur.missing / cur_total
    if cur_rate - ref_rate <= MISSING_RATE_JUMP:
        return []
    return [Finding("missing_rate", name, "warning",
                    f"Column {name!r} is missing in {cur_rate:.1%} of current rows against "
                    f"{ref_rate:.1%} in the reference. Check the source that fills it.")]


def _reference_texts(ref: ColumnProfile) -> list[str] | None:
    """The reference's texts: the sample it kept, else its value counts expanded (exact
    multiset, not row order), else None."""
    cat = ref.categorical
    if cat is None:
        return None
    if cat.texts is not None:
        return cat.texts.texts
    if cat.overflowed:
        return None
    keys = np.empty(len(cat.counts), dtype=object)
    keys[:] = [str(k) for k in cat.counts]
    expanded = np.repeat(keys, np.fromiter(cat.counts.values(), dtype=np.int64))
    if expanded.size > TEXT_SAMPLE_SIZE:  # duplicates abound here: sample rows, not hashes
        expanded = np.random.default_rng(0).choice(expanded, TEXT_SAMPLE_SIZE, replace=False)
    return [str(t) for t in expanded]


def _test_column(name: str, ref: ColumnProfile, cur: _Current, method: str | None,
                 threshold: float | None) -> tuple[ColumnDrift | None, list[Finding]]:
    """The verdict for one column (or None) and the findings about it."""
    kind = cur.type
    findings: list[Finding] = []
    fits = {"numeric": ref.numeric is not None, "text": ref.categorical is not None,
            "categorical": ref.numeric is not None or ref.categorical is not None}
    if not fits[kind]:
        return None, [Finding(
            "dtype_changed", name, "error",
            f"Column {name!r} changed type from {ref.dtype} ({ref.kind}) to {cur.dtype_name} "
            f"({kind}); it is not tested (evidently cannot compare them either). Cast it back "
            "to the reference dtype upstream.")]
    if ref.dtype != cur.dtype_name:
        findings.append(Finding(
            "dtype_changed", name, "info",
            f"Column {name!r} changed dtype from {ref.dtype} to {cur.dtype_name} (still "
            "tested). An int column turning float usually means missing values appeared."))
    for label, n in (("reference", ref.count), ("current", cur.count)):
        if n == 0:
            findings.append(Finding(
                "all_missing", name, "error",
                f"Column {name!r} has no non-missing value in the {label} data; it is not "
                "tested. Check the pipeline that fills it."))
    if ref.count == 0 or cur.count == 0:
        return None, findings
    findings += _missing_rate(name, ref, cur)
    if kind == "text":
        return _test_text(name, ref, cur, threshold, findings)
    if kind == "numeric":
        assert ref.numeric is not None and cur.numeric is not None
        rc, cc = ref.numeric.distinct, cur.numeric.distinct
        n_values = len(set(rc) | set(cc)) if rc is not None and cc is not None else None
        if n_values is not None and n_values > 64:
            n_values = None
        rc, cc = ref.numeric.value_counts(), cur.numeric.value_counts()
    else:
        rc, cc = ref.category_counts(), dict(cur.counts or {})
        if rc is None:
            return None, [*findings, Finding(
                "high_cardinality", name, "error",
                f"Column {name!r} is categorical in the current data but the reference profile "
                "kept no value counts for it (more than 64 distinct non-integer values); it is "
                "not tested. Check the column, or cast it to float to test it as numeric.")]
        if ref.categorical is not None and ref.categorical.overflowed:
            cc = _fold(cc, rc)
            findings.append(Finding(
                "high_cardinality", name, "warning",
                f"Column {name!r} has more than {ref.categorical.max_categories} categories; "
                "the reference kept the most frequent and folded the rest into an 'other' "
                "bucket, and the current data is folded the same way, so the score is a lower "
                "bound of evidently's. Raise max_categories in profile() or bucket the column."))
        else:
            findings += _unseen(name, rc, cc)
        n_values = len(set(rc) | set(cc))
    return _score(name, kind, ref, cur, rc, cc, n_values, method, threshold), findings


def _fold(cur: dict[Any, int], ref: dict[Any, int]) -> dict[Any, int]:
    """Current counts on the reference's kept categories; everything else in OTHER."""
    out = {k: v for k, v in cur.items() if k in ref and k != OTHER}
    rest = sum(cur.values()) - sum(out.values())
    if rest:
        out[OTHER] = rest
    return out


def _unseen(name: str, rc: dict[Any, int], cc: dict[Any, int]) -> list[Finding]:
    unseen = [k for k in cc if k not in rc and k != OTHER]
    if not unseen:
        return []
    shown = ", ".join(repr(k) for k in sorted(unseen, key=str)[:5])
    more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
    rows = sum(cc[k] for k in unseen)
    return [Finding(
        "unseen_categories", name, "warning",
        f"Column {name!r} has {len(unseen)} categories never seen in the reference "
        f"({shown}{more}; {rows} rows). Retrain or map them to known values.")]


def _score(name: str, kind: str, ref: ColumnProfile, cur: _Current, rc: dict | None,
           cc: dict | None, n_values: int | None, method: str | None,
           threshold: float | None) -> ColumnDrift:
    n_ref, n_cur = ref.count, cur.count
    name_ = method or st.default_stattest(kind, n_ref, n_values)
    test = st.STATTESTS[name_]
    if name_ == "wasserstein" and kind != "numeric" or name_ in ("chisquare", "z") and (
        rc is None or cc is None
    ):
        raise UsageError(
            f"method={name_!r} does not apply to column {name!r} ({kind}). Use one of "
            f"{list(METHODS)} that fits, or method=None for evidently's default choice.")
    ref_num, cur_num = ref.numeric, cur.numeric
    counts_path = kind == "categorical" or (n_values is not None and n_values <= 5)
    if name_ == "wasserstein":
        assert ref_num is not None and cur_num is not None
        score = st.wasserstein_sketch(ref_num, cur_num)
    elif name_ == "ks":
        assert ref_num is not None and ref_num.values is not None and cur_num is not None
        ks = st.KSAccumulator(ref_num.values)
        ks.add(cur.values if cur.values is not None else np.zeros(0))
        score = ks.p_value(cur_num.values)
    elif name_ == "chisquare":
        score = st.chisquare_counts(rc, cc)  # type: ignore[arg-type]
    elif name_ == "z":
        score = st.z_counts(rc, cc)  # type: ignore[arg-type]
    elif name_ == "jensenshannon":
        if counts_path or ref_num is None or cur_num is None:
            score = st.jensenshannon_counts(rc, cc)  # type: ignore[arg-type]
        else:
            score = _jensenshannon_numeric(ref_num, cur_num)
    else:  # psi
        ref_distinct = ref_num.n_distinct if ref_num is not None else None
        if kind == "categorical" or (ref_distinct is not None and ref_distinct <= 20):
            score = st.psi_counts(rc, cc)  # type: ignore[arg-type]
        else:
            assert ref_num is not None and cur_num is not None
            score = st.psi_sketch(ref_num, cur_num)
    thr = test.threshold if threshold is None else threshold
    return ColumnDrift(name, kind, test.name, test.display_name, float(score), thr,
                       st.is_drifted(test, score, thr), n_ref, n_cur)


def _test_text(name: str, ref: ColumnProfile, cur: _Current, threshold: float | None,
               findings: list[Finding]) -> tuple[ColumnDrift | None, list[Finding]]:
    from nbops.monitoring.textdrift import DISPLAY_NAMES, TEXT_THRESHOLDS, text_drift_score

    ref_texts = _reference_texts(ref)
    if not ref_texts:
        return None, [*findings, Finding(
            "high_cardinality", name, "error",
            f"Column {name!r} is free text in the current data, but the reference profile kept "
            "neither texts nor exact value counts for it; it is not tested. Re-profile the "
            "reference with this version of nbops.")]
    try:
        auc, drifted, method = text_drift_score(ref_texts, cur.texts or [], ref.count, threshold)
    except ValueError as e:  # e.g. too few texts or words for the classifier
        return None, [*findings, Finding(
            "untestable_column", name, "warning",
            f"Column {name!r} (free text) could not be tested: the text classifier failed "
            f"({e}); evidently fails on it too. Give it more rows or exclude the column.")]
    thr = TEXT_THRESHOLDS[method] if threshold is None else threshold
    return ColumnDrift(name, "text", method, DISPLAY_NAMES[method], auc, thr, drifted,
                       ref.count, cur.count), findings


def _jensenshannon_numeric(ref: NumericSketch, cur: NumericSketch) -> float:
    """Forced Jensen–Shannon on a continuous column: Sturges bins, like evidently."""
    from scipy.spatial import distance

    n = ref.count + cur.count
    lo, hi = min(ref.min, cur.min), max(ref.max, cur.max)
    edges = np.linspace(lo, hi, int(math.ceil(math.log2(n)) + 1) + 1)
    return float(distance.jensenshannon(st._mass_between(ref, edges), st._mass_between(cur, edges)))


# ---------------------------------------------------------------------------------------------
# the table


def drift(
    current: pd.DataFrame,
    reference: pd.DataFrame | Profile,
    columns: list[str] | None = None,
    method: str | None = None,
    *,
    threshold: float | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    chunk_size: int = 200_000,
    include_skipped: bool = False,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column, as evidently's auto mode does.

    ``reference`` is a :class:`Profile` (typically stored with the model version) or a
    DataFrame (profiled on the fly). Each column is typed from the *current* data by
    evidently's rules (:mod:`nbops.monitoring.coltypes`). ``method=None`` picks evidently
    0.7's default test per column; ``method`` may force one of ``psi``, ``wasserstein``,
    ``jensenshannon``, ``chisquare``, ``z`` on numeric and categorical columns (text columns
    keep the text-content test); ``threshold`` overrides the test's default threshold.
    ``include_skipped=True`` also tests the columns evidently's auto mode skips (``Int64``,
    ``UInt*``, ``uint*``, ``Float64``, ``boolean``), reported in ``.extra`` and not counted
    in the share.

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
    by_name = {str(c): c for c in current.columns}
    max_bins = max((cp.numeric.max_bins for cp in reference.columns.values() if cp.numeric),
                   default=DEFAULT_MAX_BINS)

    sub_ref = Profile({c: reference.columns[c] for c in wanted}, reference.rows, reference.name)
    findings = schema_findings(sub_ref, _columns_only(current))
    if columns is not None:  # the caller chose the columns: extra ones are not news
        findings = [f for f in findings if f.code != "extra_column"]
    results: dict[str, ColumnDrift] = {}
    extra: dict[str, ColumnDrift] = {}
    for name in wanted:
        if name not in by_name:
            continue
        s = current[by_name[name]]
        ref = reference.columns[name]
        cur, ctype, is_extra = _read_current(s, ref, include_skipped, max_bins=max_bins,
                                             chunk_size=chunk_size)
        if cur is None:
            findings.append(_skipped(name, str(s.dtype), ctype))
            continue
        if cur.type == "numeric" and ref.numeric is not None and ref.numeric.values is not None:
            v = cur.numeric.values if cur.numeric is not None else None
            cur.values = v if v is not None else _finite(s)
        verdict, col_findings = _test_column(name, ref, cur, method, threshold)
        findings += col_findings
        if verdict is not None:
            (extra if is_extra else results)[name] = verdict
    if not results and not extra:
        detail = "; ".join(f.message for f in findings if f.severity == "error") or "no columns"
        raise MonitoringError(f"No column could be tested for drift: {detail}")
    return DriftResult(results, findings, drift_share, len(current), reference.rows,
                       extra=extra)


def _finite(s: pd.Series) -> np.ndarray:
    from nbops.monitoring.profile import numeric_values

    v = numeric_values(s)
    return v[np.isfinite(v)]


def _skipped(name: str, dtype: str, ctype: str) -> Finding:
    if ctype == "datetime":
        why = "datetime columns are not tested for drift (as in evidently)"
    elif ctype == "list":
        why = "columns of lists are not tested for drift (as in evidently)"
    else:
        why = (f"evidently's auto mode skips dtype {dtype}; pass include_skipped=True to test "
               "it apart from the share (nullable, unsigned and boolean dtypes), or cast it")
    return Finding("unsupported_column", name, "info",
                   f"Column {name!r} ({dtype}) is not tested: {why}.")


def _columns_only(df: pd.DataFrame) -> Profile:
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
