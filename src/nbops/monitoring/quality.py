"""Data quality findings: what is wrong with the current data, reported instead of a crash.

A finding has a ``code``, a ``column`` (or None for the whole table), a ``severity``
('info' | 'warning' | 'error') and a message that says what to do. Codes:

=====================  ========  ====================================================
code                   severity  meaning
=====================  ========  ====================================================
``empty_current``      error     the current data has no rows (``check`` only; ``drift``
                                 raises :class:`~nbops.exceptions.MonitoringError`)
``missing_column``     error     a reference column is absent from the current data
``extra_column``       info      a current column is not in the reference
``dtype_changed``      error     numeric ↔ categorical/text change; column not tested
                       info      int ↔ float (e.g. NaNs appeared); column still tested
``all_missing``        error     a column has no non-missing value; column not tested
``unseen_categories``  warning   categories in current that the reference never had
``high_cardinality``   warning   a categorical column over its category cap, or a text
                                 column (more than half the values distinct); text columns
                                 are not tested (evidently uses a text-content model)
``unsupported_column`` info      datetime or other dtype; not tested
``missing_rate``       warning   the share of missing values rose by more than 10 points
=====================  ========  ====================================================

Example:
    >>> import pandas as pd
    >>> from nbops.monitoring import check
    >>> [f.code for f in check(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"a": [1.0], "b": [2]}))]
    ['missing_column']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nbops.monitoring.profile import OTHER, ColumnProfile, Profile

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SEVERITIES", "Finding", "check", "column_findings", "schema_findings"]

SEVERITIES = ("info", "warning", "error")
MISSING_RATE_JUMP = 0.10


@dataclass(frozen=True)
class Finding:
    """One data-quality observation about the current data."""

    code: str
    column: str | None
    severity: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def schema_findings(reference: Profile, current: Profile) -> list[Finding]:
    """Missing and extra columns between a reference and a current profile."""
    out = [
        Finding("missing_column", c, "error",
                f"Column {c!r} is in the reference but not in the current data; it is not "
                "tested. Restore it upstream or drop it from the reference profile.")
        for c in reference.columns if c not in current.columns
    ]
    out += [
        Finding("extra_column", c, "info",
                f"Column {c!r} is in the current data but not in the reference; it is not "
                "tested. Re-profile the reference to include it.")
        for c in current.columns if c not in reference.columns
    ]
    return out


_NUMERIC = ("numeric",)


def column_findings(ref: ColumnProfile, cur: ColumnProfile) -> tuple[list[Finding], bool]:
    """Findings for one column and whether drift can be tested on it."""
    name = ref.name
    out: list[Finding] = []
    rk, ck = ref.kind, cur.kind  # the reference decides how a column is tested
    ref_num, cur_num = ref.numeric is not None, cur.numeric is not None
    if ref_num != cur_num:
        out.append(Finding(
            "dtype_changed", name, "error",
            f"Column {name!r} changed type from {ref.dtype} ({rk}) to {cur.dtype} ({ck}); "
            "it is not tested. Cast it back to the reference dtype upstream."))
        return out, False
    if ref.dtype != cur.dtype:
        out.append(Finding(
            "dtype_changed", name, "info",
            f"Column {name!r} changed dtype from {ref.dtype} to {cur.dtype} (same kind, "
            "still tested). An int column turning float usually means missing values appeared."))
    if rk == "unsupported":
        out.append(Finding(
            "unsupported_column", name, "info",
            f"Column {name!r} has dtype {ref.dtype}, which drift checks do not cover; "
            "pass columns=[...] to choose the tested columns."))
        return out, False
    if rk == "text":
        out.append(Finding(
            "high_cardinality", name, "warning",
            f"Column {name!r} looks like free text (more than half of its values are distinct); "
            "it is not tested. Derive a categorical or numeric feature from it, or exclude it."))
        return out, False
    tested = True
    for label, cp in (("reference", ref), ("current", cur)):
        if cp.count == 0:
            out.append(Finding(
                "all_missing", name, "error",
                f"Column {name!r} has no non-missing value in the {label} data; it is not "
                "tested. Check the pipeline that fills it."))
            tested = False
    if not tested:
        return out, False
    ref_total, cur_total = ref.count + ref.missing, cur.count + cur.missing
    if ref_total and cur_total:
        ref_rate, cur_rate = ref.missing / ref_total, cur.missing / cur_total
        if cur_rate - ref_rate > MISSING_RATE_JUMP:
            out.append(Finding(
                "missing_rate", name, "warning",
                f"Column {name!r} is missing in {cur_rate:.1%} of current rows against "
                f"{ref_rate:.1%} in the reference. Check the source that fills it."))
    if rk == "categorical":
        rc, cc = ref.category_counts(), cur.category_counts()
        over = ref.categorical is not None and ref.categorical.overflowed
        if cc is None:
            out.append(Finding(
                "high_cardinality", name, "error",
                f"Column {name!r} was categorical in the reference but has more than 64 distinct "
                "values now; it is not tested. Check the column or pass it as numeric."))
            return out, False
        if rc is not None and not over:
            unseen = [k for k in cc if k not in rc and k != OTHER]
            if unseen:
                shown = ", ".join(repr(k) for k in sorted(unseen, key=str)[:5])
                more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
                rows = sum(cc[k] for k in unseen)
                out.append(Finding(
                    "unseen_categories", name, "warning",
                    f"Column {name!r} has {len(unseen)} categories never seen in the reference "
                    f"({shown}{more}; {rows} rows). Retrain or map them to known values."))
        if over:
            assert ref.categorical is not None
            out.append(Finding(
                "high_cardinality", name, "warning",
                f"Column {name!r} has more than {ref.categorical.max_categories} categories; "
                "the rarest fold into an 'other' bucket and its drift score is approximate. "
                "Raise max_categories in profile() or bucket the column."))
    return out, True


def check(current: pd.DataFrame, reference: pd.DataFrame | Profile) -> list[Finding]:
    """All findings for ``current`` against ``reference``, without computing drift.

    Unlike :func:`~nbops.monitoring.drift`, an empty ``current`` is returned as an
    ``empty_current`` finding rather than raised.

    Example:
        >>> import pandas as pd
        >>> from nbops.monitoring import check
        >>> ref = pd.DataFrame({"c": ["a", "b"] * 10})
        >>> [f.code for f in check(pd.DataFrame({"c": ["a", "z"]}), ref)]
        ['unseen_categories']
    """
    from nbops.monitoring.profile import profile as make_profile

    ref = reference if isinstance(reference, Profile) else make_profile(reference)
    if len(current) == 0:
        return [Finding("empty_current", None, "error",
                        "The current data has no rows; nothing can be checked. Check the query "
                        "or time window that selects the current data.")]
    cur = make_profile(current)
    out = schema_findings(ref, cur)
    for name, rc in ref.columns.items():
        if name in cur.columns:
            out += column_findings(rc, cur.columns[name])[0]
    return out
