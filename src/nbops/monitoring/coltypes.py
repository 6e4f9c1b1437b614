"""Column types by evidently 0.7.23's rules, and what nbops keeps for each dtype.

evidently's auto mode (``Dataset.from_pandas(df)`` without a ``DataDefinition``) types each
column from its pandas dtype name (``evidently.core.datasets.infer_column_type``), and
``DataDriftPreset`` takes the types of the *current* dataset:

=========================================  ==================================================
dtype name                                 evidently type
=========================================  ==================================================
``float*`` (float16/32/64)                 numeric
``int*`` (int8..int64)                     categorical with at most 10 distinct values, else
                                           numeric
``str`` (pandas 3's default), ``string``   text when more than half of the non-null values are
                                           distinct, else categorical
``object`` holding strings                 same rule as ``str`` (first and last non-null values
                                           are strings)
``bool``, ``category``                     categorical
``datetime64*``                            datetime (not tested for drift)
anything else                              unknown (not tested): ``Int64``, ``Float64``,
                                           ``boolean``, unsigned ``uint*`` and ``UInt*``,
                                           ``object`` holding numbers, periods, timedeltas
=========================================  ==================================================

The dtypes evidently skips (``Int64``, ``UInt*``, ``uint*``, ``Float64``, ``boolean``) can
still be tested by nbops on request (``drift(..., include_skipped=True)``), with the same rules
as their numpy counterpart; they are reported apart so the share stays evidently's.

Example:
    >>> import pandas as pd
    >>> from nbops.monitoring.coltypes import evidently_type, extended_type
    >>> evidently_type(pd.Series([1, 2, 3])), evidently_type(pd.Series([0.5, 1.5]))
    ('categorical', 'numeric')
    >>> s = pd.Series([1, 2, None], dtype="Int64")
    >>> evidently_type(s), extended_type(s)
    ('unknown', 'categorical')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DRIFT_TYPES", "INTEGER_CARDINALITY_LIMIT", "evidently_type", "extended_type", "sketch_family"]

INTEGER_CARDINALITY_LIMIT = 10
"""evidently 0.7 infers an integer column with at most 10 distinct values as categorical."""
DRIFT_TYPES = ("numeric", "categorical", "text")
"""Types evidently's DataDriftPreset tests."""


def _string_type(n_distinct: int, count: int) -> str:
    return "text" if n_distinct > 0.5 * count else "categorical"


def evidently_type(s: pd.Series, n_distinct: int | None = None) -> str:
    """evidently 0.7.23's type for ``s``: 'numeric' | 'categorical' | 'text' | 'datetime' |
    'list' | 'unknown'.

    ``n_distinct`` (the non-null distinct count) may be passed when already known.
    """
    name = s.dtype.name
    if name.startswith("float"):
        return "numeric"
    if name.startswith("int"):
        n = s.nunique() if n_distinct is None else n_distinct
        return "categorical" if n <= INTEGER_CARDINALITY_LIMIT else "numeric"
    if name in ("string", "str"):
        n = s.nunique() if n_distinct is None else n_distinct
        return _string_type(n, int(s.count()))
    if name == "object":
        values = s.dropna()
        if values.empty:
            return "unknown"
        first, last = values.iloc[0], values.iloc[-1]
        if isinstance(first, str) and isinstance(last, str):
            n = s.nunique() if n_distinct is None else n_distinct
            return _string_type(n, int(s.count()))
        if isinstance(first, (list, tuple)) and isinstance(last, (list, tuple)):
            return "list"
        return "unknown"
    if name in ("bool", "category"):
        return "categorical"
    if name.startswith("datetime"):
        return "datetime"
    return "unknown"


def extended_type(s: pd.Series, n_distinct: int | None = None) -> str:
    """evidently's type, extended to the dtypes it skips (nullable and unsigned integers,
    ``Float64``, ``boolean``) with the rules of their numpy counterparts."""
    name = s.dtype.name
    if name == "Float64" or name == "Float32":
        return "numeric"
    if name.startswith(("Int", "UInt", "uint")):
        n = s.nunique() if n_distinct is None else n_distinct
        return "categorical" if n <= INTEGER_CARDINALITY_LIMIT else "numeric"
    if name == "boolean":
        return "categorical"
    return evidently_type(s, n_distinct)


def sketch_family(s: pd.Series) -> str:
    """What a profile keeps for ``s``: 'numeric' (a histogram), 'categorical' (value counts),
    'string' (value counts and a sample of texts) or 'other' (counts of rows only)."""
    import pandas as pd

    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dt):
        return "numeric"
    if pd.api.types.is_string_dtype(dt):
        if dt.name == "object":
            return "string" if evidently_type(s, n_distinct=0) in ("categorical", "text") else "other"
        return "string"
    return "other"
