"""Reference profiles: a compact, mergeable per-column summary of a DataFrame.

A :class:`Profile` is built once (at training time) and stored as a JSON artifact next to the
model version. Drift checks later compare fresh data against it without the reference rows.

Numeric columns keep a *power-of-two grid histogram*: bin ``i`` covers ``[i·2^s, (i+1)·2^s)``.
The width ``2^s`` is the finest that keeps the occupied span under ``max_bins`` bins. Grids of
different ``s`` nest, so two histograms merge exactly by coarsening the finer one; the merged
counts are exactly those of a profile of the concatenated data, whatever the chunking. Next to
the histogram: count, missing, infinite, mean and M2 (Chan's parallel update), exact min and max,
the distinct values while there are at most 64, and the sorted values themselves while there are
at most 1,000 (evidently's small-data regime needs them for its KS test).

Categorical columns keep value counts, capped at ``max_categories`` with an "other" bucket.

Example:
    >>> import pandas as pd
    >>> from nbops.monitoring import profile
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "a"]})
    >>> p = profile(df, name="train")
    >>> p.rows, p["x"].kind, p["c"].kind
    (4, 'numeric', 'categorical')
    >>> p.merge(p).rows
    8
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbops.exceptions import UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CategoricalSketch",
    "ColumnProfile",
    "NumericSketch",
    "Profile",
    "profile",
]

FORMAT_VERSION = 1
DISTINCT_CAP = 64
"""Distinct numeric values tracked exactly (evidently looks at <= 5, <= 10 and <= 20)."""
EXACT_LIMIT = 1000
"""Non-null values kept verbatim: evidently switches tests above 1,000 reference rows."""
DEFAULT_MAX_BINS = 8192
DEFAULT_MAX_CATEGORIES = 1000
DEFAULT_CHUNK_SIZE = 200_000
INTEGER_CARDINALITY_LIMIT = 10
"""evidently 0.7 infers an integer column with at most 10 distinct values as categorical."""
OTHER = "__other__"

NUMERIC_FAMILIES = ("float", "int")
CATEGORICAL_FAMILIES = ("bool", "string", "category")


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(np.ascontiguousarray(arr).tobytes(), 6)).decode()


def _unb64(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=dtype).copy()


def norm_key(value: Any) -> Any:
    """Normalise a category value so that 1, 1.0, np.int64(1) and True/False compare sensibly."""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _sort_key(item: tuple[Any, int]) -> tuple[int, str, str]:
    return (-item[1], type(item[0]).__name__, str(item[0]))


# ---------------------------------------------------------------------------------------------
# numeric sketch


def _span(lo: float, hi: float, shift: int) -> int:
    return int(math.floor(math.ldexp(hi, -shift))) - int(math.floor(math.ldexp(lo, -shift))) + 1


def _choose_shift(lo: float, hi: float, max_bins: int) -> int:
    """Finest power-of-two bin width keeping [lo, hi] within ``max_bins`` bins.

    Never finer than the float resolution of the largest magnitude, so bin indices stay exact
    and below 2**54.
    """
    magnitude = max(abs(lo), abs(hi))
    floor_shift = (math.frexp(magnitude)[1] - 53) if magnitude > 0 else -1074
    if hi > lo:
        shift = max(floor_shift, math.floor(math.log2((hi - lo) / max_bins)) - 2)
    else:
        shift = floor_shift
    while _span(lo, hi, shift) > max_bins:
        shift += 1
    return shift


@dataclass
class NumericSketch:
    """Mergeable summary of one numeric column (see the module docstring)."""

    count: int = 0
    missing: int = 0
    infinite: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    shift: int = 0
    offset: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    distinct: dict[Any, int] | None = field(default_factory=dict)
    values: np.ndarray | None = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    max_bins: int = DEFAULT_MAX_BINS
    exact_limit: int = EXACT_LIMIT

    @property
    def std(self) -> float:
        """Population standard deviation (``np.std`` with ddof=0, as evidently uses)."""
        return math.sqrt(self.m2 / self.count) if self.count else math.nan

    @property
    def n_distinct(self) -> int | None:
        """Number of distinct values, or None when above the tracked cap (64)."""
        return None if self.distinct is None else len(self.distinct)

    @classmethod
    def from_array(
        cls, x: np.ndarray, *, max_bins: int = DEFAULT_MAX_BINS, exact_limit: int = EXACT_LIMIT
    ) -> NumericSketch:
        x = np.asarray(x, dtype=np.float64)
        nan = np.isnan(x)
        inf = np.isinf(x)
        finite = x[~(nan | inf)]
        sk = cls(
            missing=int(nan.sum()), infinite=int(inf.sum()), max_bins=max_bins,
            exact_limit=exact_limit,
        )
        n = int(finite.size)
        if n == 0:
            return sk
        sk.count = n
        sk.mean = float(finite.mean())
        sk.m2 = float(np.square(finite - sk.mean).sum())
        sk.min = float(finite.min())
        sk.max = float(finite.max())
        sk.shift = _choose_shift(sk.min, sk.max, max_bins)
        idx = np.floor(np.ldexp(finite, -sk.shift)).astype(np.int64)
        sk.offset = int(math.floor(math.ldexp(sk.min, -sk.shift)))
        sk.counts = np.bincount(idx - sk.offset).astype(np.int64)
        if np.count_nonzero(sk.counts) > DISTINCT_CAP:
            sk.distinct = None
        else:
            uniq, cnt = np.unique(finite, return_counts=True)
            sk.distinct = (
                None if uniq.size > DISTINCT_CAP
                else {norm_key(u): int(c) for u, c in zip(uniq.tolist(), cnt.tolist(), strict=True)}
            )
        sk.values = np.sort(finite) if n <= exact_limit else None
        return sk

    def _coarsened(self, shift: int) -> tuple[int, np.ndarray]:
        d = shift - self.shift
        if d == 0:
            return self.offset, self.counts
        idx = (self.offset + np.arange(self.counts.size, dtype=np.int64)) >> d
        new_offset = self.offset >> d
        return new_offset, np.bincount(idx - new_offset, weights=self.counts).astype(np.int64)

    def merge(self, other: NumericSketch) -> NumericSketch:
        """Sketch of the concatenated data (exact for counts, bins, distinct and values)."""
        limit = min(self.exact_limit, other.exact_limit)
        max_bins = min(self.max_bins, other.max_bins)
        out = NumericSketch(
            missing=self.missing + other.missing, infinite=self.infinite + other.infinite,
            max_bins=max_bins, exact_limit=limit,
        )
        parts = [s for s in (self, other) if s.count]
        if not parts:
            return out
        if len(parts) == 1:
            (s,) = parts
            out.count, out.mean, out.m2, out.min, out.max = s.count, s.mean, s.m2, s.min, s.max
            out.shift, out.offset, out.counts = s.shift, s.offset, s.counts.copy()
            out.distinct = None if s.distinct is None else dict(s.distinct)
            out.values = s.values.copy() if s.values is not None and s.count <= limit else None
            return out._rebin(max_bins)
        a, b = parts
        n = a.count + b.count
        delta = b.mean - a.mean
        out.count = n
        out.mean = a.mean + delta * b.count / n
        out.m2 = a.m2 + b.m2 + delta * delta * a.count * b.count / n
        out.min, out.max = min(a.min, b.min), max(a.max, b.max)
        shift = max(a.shift, b.shift)
        while True:
            lo = min(a.offset >> (shift - a.shift), b.offset >> (shift - b.shift))
            hi = max(
                (a.offset + a.counts.size - 1) >> (shift - a.shift),
                (b.offset + b.counts.size - 1) >> (shift - b.shift),
            )
            if hi - lo + 1 <= max_bins:
                break
            shift += 1
        counts = np.zeros(hi - lo + 1, dtype=np.int64)
        for s in (a, b):
            off, c = s._coarsened(shift)
            counts[off - lo: off - lo + c.size] += c
        out.shift, out.offset, out.counts = shift, lo, counts
        if a.distinct is None or b.distinct is None:
            out.distinct = None
        else:
            merged = dict(a.distinct)
            for k, v in b.distinct.items():
                merged[k] = merged.get(k, 0) + v
            out.distinct = merged if len(merged) <= DISTINCT_CAP else None
        if a.values is not None and b.values is not None and n <= limit:
            out.values = np.sort(np.concatenate([a.values, b.values]))
        else:
            out.values = None
        return out

    def _rebin(self, max_bins: int) -> NumericSketch:
        shift = self.shift
        while self.counts.size and (
            ((self.offset + self.counts.size - 1) >> (shift - self.shift))
            - (self.offset >> (shift - self.shift)) + 1 > max_bins
        ):
            shift += 1
        if shift != self.shift:
            self.offset, self.counts = self._coarsened(shift)
            self.shift = shift
        return self

    def edges(self) -> np.ndarray:
        """Bin edges of the histogram (``counts.size + 1`` values)."""
        return np.ldexp(
            (self.offset + np.arange(self.counts.size + 1, dtype=np.int64)).astype(np.float64),
            self.shift,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count, "missing": self.missing, "infinite": self.infinite,
            "mean": self.mean, "m2": self.m2,
            "min": self.min if self.count else None, "max": self.max if self.count else None,
            "shift": self.shift, "offset": self.offset, "counts": _b64(self.counts.astype("<i8")),
            "distinct": None if self.distinct is None else [[k, v] for k, v in self.distinct.items()],
            "values": None if self.values is None else _b64(self.values.astype("<f8")),
            "max_bins": self.max_bins, "exact_limit": self.exact_limit,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericSketch:
        return cls(
            count=d["count"], missing=d["missing"], infinite=d["infinite"], mean=d["mean"],
            m2=d["m2"],
            min=math.inf if d["min"] is None else d["min"],
            max=-math.inf if d["max"] is None else d["max"],
            shift=d["shift"], offset=d["offset"], counts=_unb64(d["counts"], "<i8"),
            distinct=None if d["distinct"] is None else {norm_key(k): v for k, v in d["distinct"]},
            values=None if d["values"] is None else _unb64(d["values"], "<f8"),
            max_bins=d["max_bins"], exact_limit=d["exact_limit"],
        )


# ---------------------------------------------------------------------------------------------
# categorical sketch


@dataclass
class CategoricalSketch:
    """Value counts of one categorical column, capped with an "other" bucket."""

    count: int = 0
    missing: int = 0
    counts: dict[Any, int] = field(default_factory=dict)
    other: int = 0
    max_categories: int = DEFAULT_MAX_CATEGORIES
    distinct_seen: int = 0
    """Largest distinct count seen in one chunk: a lower bound once categories are capped."""

    @property
    def n_distinct_lower_bound(self) -> int:
        """At least this many distinct values (exact while not overflowed)."""
        return max(self.distinct_seen, len(self.counts) + (1 if self.overflowed else 0))

    @property
    def overflowed(self) -> bool:
        """True when some categories were folded into the "other" bucket."""
        return self.other > 0

    @classmethod
    def from_series(
        cls, s: pd.Series, *, max_categories: int = DEFAULT_MAX_CATEGORIES
    ) -> CategoricalSketch:
        vc = s.value_counts(dropna=True, sort=False)
        counts: dict[Any, int] = {}
        for k, v in zip(vc.index.tolist(), vc.to_numpy().tolist(), strict=True):
            if v:
                key = norm_key(k)
                counts[key] = counts.get(key, 0) + int(v)
        sk = cls(count=int(sum(counts.values())), missing=int(s.isna().sum()), counts=counts,
                 max_categories=max_categories, distinct_seen=len(counts))
        return sk._cap()

    def _cap(self) -> CategoricalSketch:
        if len(self.counts) > self.max_categories:
            items = sorted(self.counts.items(), key=_sort_key)
            self.counts = dict(items[: self.max_categories])
            self.other += sum(v for _, v in items[self.max_categories:])
        return self

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        counts = dict(self.counts)
        for k, v in other.counts.items():
            counts[k] = counts.get(k, 0) + v
        return CategoricalSketch(
            count=self.count + other.count, missing=self.missing + other.missing, counts=counts,
            other=self.other + other.other,
            max_categories=min(self.max_categories, other.max_categories),
            distinct_seen=max(self.distinct_seen, other.distinct_seen),
        )._cap()

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count, "missing": self.missing,
            "counts": [[k, v] for k, v in sorted(self.counts.items(), key=_sort_key)],
            "other": self.other, "max_categories": self.max_categories,
            "distinct_seen": self.distinct_seen,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalSketch:
        return cls(count=d["count"], missing=d["missing"], counts={k: v for k, v in d["counts"]},
                   other=d["other"], max_categories=d["max_categories"],
                   distinct_seen=d["distinct_seen"])


# ---------------------------------------------------------------------------------------------
# column and frame profiles


def dtype_family(s: pd.Series) -> str:
    """'float' | 'int' | 'bool' | 'string' | 'category' | 'datetime' | 'other'."""
    import pandas as pd

    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dt):
        return "bool"
    if pd.api.types.is_integer_dtype(dt):
        return "int"
    if pd.api.types.is_float_dtype(dt):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dt) or isinstance(dt, pd.PeriodDtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dt):
        if dt == np.dtype(object):
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            return "string" if inferred in ("string", "empty", "mixed") else "other"
        return "string"
    return "other"


@dataclass
class ColumnProfile:
    """Profile of one column: its dtype, its inferred kind and a sketch."""

    name: str
    dtype: str
    family: str
    numeric: NumericSketch | None = None
    categorical: CategoricalSketch | None = None

    @property
    def count(self) -> int:
        """Non-missing (and finite) values."""
        sk = self.numeric or self.categorical
        return sk.count if sk is not None else 0

    @property
    def missing(self) -> int:
        sk = self.numeric or self.categorical
        return sk.missing if sk is not None else 0

    @property
    def kind(self) -> str:
        """'numeric' | 'categorical' | 'text' | 'unsupported', following evidently 0.7's rules.

        float → numeric; int → categorical with at most 10 distinct values, else numeric;
        bool and category → categorical; strings → text when more than half the non-null
        values are distinct, else categorical; datetimes and anything else → unsupported.
        """
        if self.family == "float":
            return "numeric"
        if self.family == "int":
            assert self.numeric is not None
            n = self.numeric.n_distinct
            return "categorical" if n is not None and n <= INTEGER_CARDINALITY_LIMIT else "numeric"
        if self.family in ("bool", "category"):
            return "categorical"
        if self.family == "string":
            assert self.categorical is not None
            c = self.categorical
            if c.count and c.n_distinct_lower_bound > 0.5 * c.count:
                return "text"
            return "categorical"
        return "unsupported"

    def category_counts(self) -> dict[Any, int] | None:
        """Value counts as categories (None when unavailable, e.g. a continuous column)."""
        if self.categorical is not None:
            out = dict(self.categorical.counts)
            if self.categorical.other:
                out[OTHER] = self.categorical.other
            return out
        if self.numeric is not None and self.numeric.distinct is not None:
            return dict(self.numeric.distinct)
        return None

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        fams = {self.family, other.family}
        if fams <= set(NUMERIC_FAMILIES) and self.numeric and other.numeric:
            family = "float" if "float" in fams else "int"
            dtype = self.dtype if self.family == family else other.dtype
            return ColumnProfile(self.name, dtype, family, numeric=self.numeric.merge(other.numeric))
        if self.family != other.family:
            raise UsageError(
                f"Cannot merge profiles: column {self.name!r} is {self.dtype} in one and "
                f"{other.dtype} in the other. Cast the column to one dtype before profiling."
            )
        if self.categorical and other.categorical:
            return ColumnProfile(self.name, self.dtype, self.family,
                                 categorical=self.categorical.merge(other.categorical))
        return ColumnProfile(self.name, self.dtype, self.family)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype, "family": self.family, "kind": self.kind,
            "numeric": self.numeric.to_dict() if self.numeric else None,
            "categorical": self.categorical.to_dict() if self.categorical else None,
        }

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> ColumnProfile:
        return cls(
            name, d["dtype"], d["family"],
            numeric=NumericSketch.from_dict(d["numeric"]) if d["numeric"] else None,
            categorical=CategoricalSketch.from_dict(d["categorical"]) if d["categorical"] else None,
        )


def _column_profile(
    name: str, s: pd.Series, *, max_bins: int, max_categories: int, exact_limit: int
) -> ColumnProfile:
    family = dtype_family(s)
    cp = ColumnProfile(name=name, dtype=str(s.dtype), family=family)
    if family in NUMERIC_FAMILIES:
        cp.numeric = NumericSketch.from_array(
            s.to_numpy(dtype=np.float64, na_value=np.nan), max_bins=max_bins,
            exact_limit=exact_limit,
        )
    elif family in CATEGORICAL_FAMILIES:
        cp.categorical = CategoricalSketch.from_series(s, max_categories=max_categories)
    return cp


@dataclass
class Profile:
    """Per-column profile of a DataFrame; mergeable and JSON-serialisable.

    Example:
        >>> import pandas as pd
        >>> from nbops.monitoring import profile, Profile
        >>> p = profile(pd.DataFrame({"x": [0.5, 1.5]}))
        >>> Profile.from_json(p.to_json()).schema
        {'x': 'float64'}
    """

    columns: dict[str, ColumnProfile]
    rows: int
    name: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def __getitem__(self, column: str) -> ColumnProfile:
        try:
            return self.columns[column]
        except KeyError:
            from nbops.exceptions import NotFoundError, closest

            raise NotFoundError(
                f"Column {column!r} is not in profile {self.name or '(unnamed)'}."
                f"{closest(column, self.columns)} Known columns: {sorted(self.columns)}"
            ) from None

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    @property
    def schema(self) -> dict[str, str]:
        """Column name → pandas dtype string."""
        return {k: v.dtype for k, v in self.columns.items()}

    @property
    def kinds(self) -> dict[str, str]:
        """Column name → kind ('numeric', 'categorical', 'text', 'unsupported')."""
        return {k: v.kind for k, v in self.columns.items()}

    def merge(self, other: Profile) -> Profile:
        """Profile of both datasets concatenated (same columns required). Associative."""
        if list(self.columns) != list(other.columns):
            missing = sorted(set(self.columns) ^ set(other.columns))
            raise UsageError(
                f"Cannot merge profiles with different columns (differing: {missing}). "
                "Profile chunks of the same table, with the same columns in the same order."
            )
        return Profile(
            columns={k: v.merge(other.columns[k]) for k, v in self.columns.items()},
            rows=self.rows + other.rows,
            name=self.name or other.name,
            created_at=max(self.created_at, other.created_at),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "nbops.profile", "version": FORMAT_VERSION, "name": self.name,
            "rows": self.rows, "created_at": self.created_at,
            "columns": {k: v.to_dict() for k, v in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        if d.get("format") != "nbops.profile" or d.get("version") != FORMAT_VERSION:
            raise UsageError(
                f"Not an nbops profile of format version {FORMAT_VERSION} "
                f"(got format={d.get('format')!r}, version={d.get('version')!r}). "
                "Rebuild it with nbops.monitoring.profile(df)."
            )
        return cls(
            columns={k: ColumnProfile.from_dict(k, v) for k, v in d["columns"].items()},
            rows=d["rows"], name=d.get("name"), created_at=d["created_at"],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Profile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"Profile JSON cannot be parsed ({e}). Was it written by "
                             "Profile.to_json()?") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON to ``path`` and return it."""
        p = Path(path)
        p.write_text(self.to_json(), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """Read a profile written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _profile_frame(
    df: pd.DataFrame, *, name: str | None = None, max_bins: int = DEFAULT_MAX_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES, exact_limit: int = EXACT_LIMIT,
    chunk_size: int = DEFAULT_CHUNK_SIZE, columns: list[str] | None = None,
) -> Profile:
    cols = list(df.columns) if columns is None else columns
    result: Profile | None = None
    n = len(df)
    for start in range(0, max(n, 1), chunk_size):
        chunk = df.iloc[start:start + chunk_size]
        part = Profile(
            columns={
                str(c): _column_profile(str(c), chunk[c], max_bins=max_bins,
                                        max_categories=max_categories, exact_limit=exact_limit)
                for c in cols
            },
            rows=len(chunk), name=name,
        )
        result = part if result is None else result.merge(part)
    assert result is not None
    return result


def profile(
    df: pd.DataFrame, name: str | None = None, *, max_bins: int = DEFAULT_MAX_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES, chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Profile:
    """Profile every column of ``df`` (chunk by chunk, so memory stays flat).

    ``max_bins`` bounds each numeric histogram (finer bins track evidently's Wasserstein score
    more closely); ``max_categories`` caps the categories kept per column, the rest fold into
    an ``__other__`` bucket.

    Example:
        >>> import pandas as pd
        >>> from nbops.monitoring import profile
        >>> p = profile(pd.DataFrame({"x": range(100)}), name="ref")
        >>> p["x"].kind, p["x"].numeric.count, p["x"].numeric.n_distinct
        ('numeric', 100, None)
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise UsageError(
            f"profile() needs a pandas DataFrame, got {type(df).__name__}. "
            "Wrap a Series with series.to_frame()."
        )
    if max_bins < 16 or max_categories < 1 or chunk_size < 1:
        raise UsageError(
            f"profile(): max_bins must be >= 16 (got {max_bins}), max_categories >= 1 "
            f"(got {max_categories}) and chunk_size >= 1 (got {chunk_size})."
        )
    dupes = sorted({str(c) for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise UsageError(f"profile(): duplicate column names {dupes}; rename them first.")
    return _profile_frame(df, name=name, max_bins=max_bins, max_categories=max_categories,
                          chunk_size=chunk_size)
