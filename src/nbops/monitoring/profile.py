"""Reference profiles: a compact, mergeable per-column summary of a DataFrame.

A :class:`Profile` is built once (at training time) and stored as a JSON artifact next to the
model version. Drift checks later compare fresh data against it without the reference rows.

Numeric columns keep a *sparse power-of-two grid histogram*: bin ``i`` covers
``[i·2^s, (i+1)·2^s)`` and only occupied bins are stored. The width ``2^s`` is the finest that
keeps the whole range within ``max_bins`` bins, or, when a few far values (outliers, sentinels)
leave most of those bins empty, the finest with at most ``max_bins`` *occupied* bins, so the
bulk of the data keeps its resolution. Grids of different ``s`` nest, so two histograms merge
by coarsening the finer one; merging is associative. A Wasserstein distance computed from the
histograms is within half a bin width (per side) of the exact one, outliers or not. Next to the
histogram: count, missing, infinite, mean and M2 (Chan's parallel update), exact min and max,
the distinct values while there are at most 64, and the sorted values themselves while there
are at most 1,000 (evidently's small-data regime needs them for its KS test).

Categorical and string columns keep exact value counts up to ``max_categories`` (10,000)
distinct values; past that the rarest fold into an ``__other__`` bucket, which drift applies
to the current data identically, and a HyperLogLog keeps the distinct count. String columns
that look like text (more than half the values distinct) also keep up to 5,000 texts.

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
from nbops.monitoring.coltypes import INTEGER_CARDINALITY_LIMIT, sketch_family

if TYPE_CHECKING:
    import pandas as pd

    from nbops.monitoring.sketches import HyperLogLog, TextSample

__all__ = [
    "CategoricalSketch",
    "ColumnProfile",
    "NumericSketch",
    "Profile",
    "profile",
]

FORMAT_VERSION = 2
DISTINCT_CAP = 64
"""Distinct numeric values tracked exactly (evidently looks at <= 5, <= 10 and <= 20)."""
EXACT_LIMIT = 1000
"""Non-null values kept verbatim: evidently switches tests above 1,000 reference rows."""
DEFAULT_MAX_BINS = 8192
DEFAULT_MAX_CATEGORIES = 10_000
DEFAULT_CHUNK_SIZE = 200_000
OTHER = "__other__"


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


def _finest_shift(lo: float, hi: float) -> int:
    """The finest bin width worth using: the float resolution of the largest magnitude (so bin
    indices stay exact and below 2**54)."""
    magnitude = max(abs(lo), abs(hi))
    return (math.frexp(magnitude)[1] - 53) if magnitude > 0 else -1074


def _choose_shift(lo: float, hi: float, max_bins: int) -> int:
    """Finest power-of-two bin width keeping all of [lo, hi] within ``max_bins`` bins."""
    floor_shift = _finest_shift(lo, hi)
    if hi > lo:
        shift = max(floor_shift, math.floor(math.log2((hi - lo) / max_bins)) - 2)
    else:
        shift = floor_shift
    while _span(lo, hi, shift) > max_bins:
        shift += 1
    return shift


def _aggregate(index: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal bin indices; indices come back sorted."""
    uniq, inverse = np.unique(index, return_inverse=True)
    return uniq, np.bincount(inverse, weights=counts).astype(np.int64)


def _occupied(sorted_x: np.ndarray, shift: int) -> int:
    return int(np.count_nonzero(np.diff(np.floor(np.ldexp(sorted_x, -shift))))) + 1


LOOKAHEAD = 3
"""Grid levels finer than the whole-range one that are tried with a dense count."""


def _bins(finite: np.ndarray, lo: float, hi: float, max_bins: int,
          integral: bool) -> tuple[int, np.ndarray, np.ndarray]:
    """(shift, occupied bin indices, counts): the finest grid with at most ``max_bins``
    occupied bins.

    That grid depends on the data alone, never on how it was chunked, so merged profiles
    equal the profile of the whole. The whole range always fits at the range's shift; the
    three finer levels are counted densely in one pass. Finer still only pays when most bins
    stay empty: a few far values (outliers, sentinels) or few distinct values; whole numbers
    then sit one per bin at any width <= 1, and anything else is found by bisection on the
    sorted values.
    """
    top = _choose_shift(lo, hi, max_bins)
    fine = max(top - LOOKAHEAD, _finest_shift(lo, hi))
    offset = int(math.floor(math.ldexp(lo, -fine)))
    dense = np.bincount(np.floor(np.ldexp(finite, -fine)).astype(np.int64) - offset)
    occupied = np.flatnonzero(dense)
    index, counts, shift = occupied + offset, dense[occupied], fine
    if index.size <= max_bins and fine > _finest_shift(lo, hi):
        finest = _finest_shift(lo, hi)
        if integral and fine <= 0:  # one whole number per bin from here down
            whole = np.ceil(np.ldexp(index.astype(np.float64), fine))
            return finest, np.ldexp(whole, -finest).astype(np.int64), counts
        xs = np.sort(finite)
        coarse = fine
        if _occupied(xs, finest) <= max_bins:
            coarse = finest
        while coarse - finest > 1:
            mid = (coarse + finest) // 2
            if _occupied(xs, mid) <= max_bins:
                coarse = mid
            else:
                finest = mid
        idx = np.floor(np.ldexp(xs, -coarse)).astype(np.int64)
        starts = np.concatenate([[0], np.flatnonzero(np.diff(idx)) + 1])
        return coarse, idx[starts], np.diff(np.append(starts, idx.size)).astype(np.int64)
    while np.count_nonzero(dense) > max_bins:  # coarsen the dense counts pairwise
        if offset & 1:
            dense, offset = np.concatenate([[0], dense]), offset - 1
        if dense.size & 1:
            dense = np.append(dense, 0)
        dense, offset, shift = dense.reshape(-1, 2).sum(axis=1), offset >> 1, shift + 1
    occupied = np.flatnonzero(dense)
    return shift, occupied + offset, dense[occupied]


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
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    distinct: dict[Any, int] | None = field(default_factory=dict)
    values: np.ndarray | None = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    integral: bool = True
    """Every finite value is a whole number."""
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

    @property
    def bin_width(self) -> float:
        return math.ldexp(1.0, self.shift)

    @classmethod
    def from_array(
        cls, x: np.ndarray, *, max_bins: int = DEFAULT_MAX_BINS, exact_limit: int = EXACT_LIMIT
    ) -> NumericSketch:
        x = np.asarray(x, dtype=np.float64)
        ok = np.isfinite(x)
        finite = x if ok.all() else x[ok]
        missing = int(np.isnan(x).sum()) if finite.size < x.size else 0
        sk = cls(missing=missing, infinite=x.size - finite.size - missing, max_bins=max_bins,
                 exact_limit=exact_limit)
        n = int(finite.size)
        if n == 0:
            return sk
        sk.count = n
        sk.mean = float(finite.mean())
        sk.m2 = float(np.square(finite - sk.mean).sum())
        sk.min = float(finite.min())
        sk.max = float(finite.max())
        sk.integral = bool(np.array_equal(np.floor(finite), finite))
        sk.shift, sk.index, sk.counts = _bins(finite, sk.min, sk.max, max_bins, sk.integral)
        if sk.index.size > DISTINCT_CAP:  # each distinct value sits in one bin
            sk.distinct = None
        else:
            uniq, cnt = np.unique(finite, return_counts=True)
            sk.distinct = (
                None if uniq.size > DISTINCT_CAP
                else {norm_key(u): int(c) for u, c in zip(uniq.tolist(), cnt.tolist(), strict=True)}
            )
        sk.values = np.sort(finite) if n <= exact_limit else None
        return sk

    def merge(self, other: NumericSketch) -> NumericSketch:
        """Sketch of the concatenated data (exact for counts, min, max, distinct and values;
        the bins are those of the coarser grid, coarsened until at most ``max_bins`` are
        occupied)."""
        limit = min(self.exact_limit, other.exact_limit)
        max_bins = min(self.max_bins, other.max_bins)
        out = NumericSketch(
            missing=self.missing + other.missing, infinite=self.infinite + other.infinite,
            max_bins=max_bins, exact_limit=limit,
        )
        parts = [s for s in (self, other) if s.count]
        if not parts:
            return out
        n = sum(s.count for s in parts)
        if len(parts) == 1:
            (a,) = parts
            out.count, out.mean, out.m2 = a.count, a.mean, a.m2
        else:
            a, b = parts
            delta = b.mean - a.mean
            out.count = n
            out.mean = a.mean + delta * b.count / n
            out.m2 = a.m2 + b.m2 + delta * delta * a.count * b.count / n
        out.min, out.max = min(s.min for s in parts), max(s.max for s in parts)
        out.integral = all(s.integral for s in parts)
        shift = max(s.shift for s in parts)
        index, counts = _aggregate(
            np.concatenate([s.index >> (shift - s.shift) for s in parts]),
            np.concatenate([s.counts for s in parts]))
        while index.size > max_bins:
            shift += 1
            index, counts = _aggregate(index >> 1, counts)
        out.shift, out.index, out.counts = shift, index, counts
        if any(s.distinct is None for s in parts):
            out.distinct = None
        else:
            merged: dict[Any, int] = {}
            for s in parts:
                for k, v in (s.distinct or {}).items():
                    merged[k] = merged.get(k, 0) + v
            out.distinct = merged if len(merged) <= DISTINCT_CAP else None
        if all(s.values is not None for s in parts) and n <= limit:
            out.values = np.sort(np.concatenate([s.values for s in parts]))  # type: ignore[misc]
        else:
            out.values = None
        return out

    def knots(self) -> tuple[np.ndarray, np.ndarray]:
        """The histogram's CDF as knots (x, F): linear inside each occupied bin, flat between
        them, clipped to the exact min and max. ``x`` may repeat where F steps."""
        w = self.bin_width
        left = self.index.astype(np.float64) * w
        x = np.empty(2 * left.size)
        x[0::2], x[1::2] = left, left + w
        cum = np.cumsum(self.counts, dtype=np.float64) / self.count
        f = np.empty_like(x)
        f[0::2], f[1::2] = cum - self.counts / self.count, cum
        x[0], x[-1] = self.min, self.max
        return x, f

    def value_counts(self) -> dict[Any, int] | None:
        """Exact counts per value when known: up to 64 distinct values, or whole numbers on
        bins at most 1 wide (one number per bin)."""
        if self.distinct is not None:
            return dict(self.distinct)
        if self.integral and self.shift <= 0:
            w = self.bin_width
            keys = np.ceil(self.index.astype(np.float64) * w).astype(np.int64).tolist()
            return dict(zip(keys, self.counts.tolist(), strict=True))
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count, "missing": self.missing, "infinite": self.infinite,
            "mean": self.mean, "m2": self.m2,
            "min": self.min if self.count else None, "max": self.max if self.count else None,
            "shift": self.shift, "index": _b64(self.index.astype("<i8")),
            "counts": _b64(self.counts.astype("<i8")),
            "distinct": None if self.distinct is None else [[k, v] for k, v in self.distinct.items()],
            "values": None if self.values is None else _b64(self.values.astype("<f8")),
            "integral": self.integral, "max_bins": self.max_bins, "exact_limit": self.exact_limit,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericSketch:
        return cls(
            count=d["count"], missing=d["missing"], infinite=d["infinite"], mean=d["mean"],
            m2=d["m2"],
            min=math.inf if d["min"] is None else d["min"],
            max=-math.inf if d["max"] is None else d["max"],
            shift=d["shift"], index=_unb64(d["index"], "<i8"), counts=_unb64(d["counts"], "<i8"),
            distinct=None if d["distinct"] is None else {norm_key(k): v for k, v in d["distinct"]},
            values=None if d["values"] is None else _unb64(d["values"], "<f8"),
            integral=d["integral"], max_bins=d["max_bins"], exact_limit=d["exact_limit"],
        )


# ---------------------------------------------------------------------------------------------
# categorical sketch


def _key_hashes(keys: Any) -> np.ndarray:
    """Stable 64-bit hashes of category keys (by their text)."""
    from nbops.monitoring.sketches import hash_values

    arr = np.asarray(keys, dtype=object)
    if not all(isinstance(x, str) for x in arr):
        arr = np.array([str(x) for x in arr], dtype=object)
    return hash_values(arr)


def _top(keys: np.ndarray, counts: np.ndarray, k: int,
         hashes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most frequent keys (ties broken by a stable hash of the key, so the cut is
    the same whatever the row order)."""
    h = _key_hashes(keys) if hashes is None else hashes
    order = np.lexsort((h, -counts))[:k]
    return keys[order], counts[order]


def _hll_of(keys: Any, hashes: np.ndarray | None = None) -> HyperLogLog:
    from nbops.monitoring.sketches import HyperLogLog

    h = HyperLogLog()
    h.add_hashes(_key_hashes(list(keys)) if hashes is None else hashes)
    return h


@dataclass
class CategoricalSketch:
    """Value counts of one categorical or string column.

    Exact up to ``max_categories`` distinct values. Past that, the most frequent are kept and
    the rest fold into an "other" bucket, a HyperLogLog keeps the distinct count, and drift
    folds the current data the same way (see :mod:`nbops.monitoring.drift`). String columns
    that look like text also keep a :class:`~nbops.monitoring.sketches.TextSample`.
    """

    count: int = 0
    missing: int = 0
    counts: dict[Any, int] = field(default_factory=dict)
    other: int = 0
    max_categories: int = DEFAULT_MAX_CATEGORIES
    hll: HyperLogLog | None = None
    """Distinct values, kept once the counts overflow ``max_categories``."""
    texts: TextSample | None = None

    @property
    def overflowed(self) -> bool:
        """True when some categories were folded into the "other" bucket."""
        return self.other > 0

    @property
    def n_distinct(self) -> int:
        """Distinct values: exact while nothing is folded, a HyperLogLog estimate after."""
        if not self.overflowed or self.hll is None:
            return len(self.counts)
        return max(len(self.counts) + 1, round(self.hll.estimate()))

    @property
    def text_like(self) -> bool:
        """More than half of the values distinct (evidently's rule for text)."""
        return bool(self.count) and self.n_distinct > 0.5 * self.count

    @classmethod
    def from_series(
        cls, s: pd.Series, *, max_categories: int = DEFAULT_MAX_CATEGORIES, texts: bool = False,
    ) -> CategoricalSketch:
        """Exact value counts of the whole series (capped at ``max_categories``)."""
        from nbops.monitoring.sketches import TextSample

        vc = s.value_counts(dropna=True, sort=False)
        vc = vc[vc.to_numpy() > 0]
        keys = vc.index.to_numpy(dtype=object)
        cnt = vc.to_numpy(dtype=np.int64)
        sk = cls(count=int(cnt.sum()), missing=int(s.isna().sum()),
                 max_categories=max_categories)
        if keys.size > max_categories:
            hashes = _key_hashes(keys)
            sk.hll = _hll_of(keys, hashes)
            keys, cnt = _top(keys, cnt, max_categories, hashes)
            sk.other = sk.count - int(cnt.sum())
        for k, v in zip(keys.tolist(), cnt.tolist(), strict=True):
            key = norm_key(k)
            sk.counts[key] = sk.counts.get(key, 0) + v
        if texts and sk.text_like:
            sk.texts = TextSample.from_values(s.dropna().to_numpy(dtype=object))
        return sk

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        counts = dict(self.counts)
        for k, v in other.counts.items():
            counts[k] = counts.get(k, 0) + v
        out = CategoricalSketch(
            count=self.count + other.count, missing=self.missing + other.missing, counts=counts,
            other=self.other + other.other,
            max_categories=min(self.max_categories, other.max_categories),
        )
        if out.other or len(counts) > out.max_categories:
            out.hll = (self.hll or _hll_of(self.counts)).merge(other.hll or _hll_of(other.counts))
        if len(counts) > out.max_categories:
            keys = np.empty(len(counts), dtype=object)
            keys[:] = list(counts)
            kept, kept_counts = _top(keys, np.array(list(counts.values()), dtype=np.int64),
                                     out.max_categories)
            out.counts = dict(zip(kept.tolist(), kept_counts.tolist(), strict=True))
            out.other += sum(counts.values()) - int(kept_counts.sum())
        if self.texts is not None and other.texts is not None:
            out.texts = self.texts.merge(other.texts)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count, "missing": self.missing,
            "counts": [[k, v] for k, v in sorted(self.counts.items(), key=_sort_key)],
            "other": self.other, "max_categories": self.max_categories,
            "hll": None if self.hll is None else self.hll.to_text(),
            "texts": None if self.texts is None else self.texts.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalSketch:
        from nbops.monitoring.sketches import HyperLogLog, TextSample

        return cls(count=d["count"], missing=d["missing"], counts={k: v for k, v in d["counts"]},
                   other=d["other"], max_categories=d["max_categories"],
                   hll=None if d["hll"] is None else HyperLogLog.from_text(d["hll"]),
                   texts=None if d["texts"] is None else TextSample.from_dict(d["texts"]))


# ---------------------------------------------------------------------------------------------
# column and frame profiles


@dataclass
class ColumnProfile:
    """Profile of one column: its dtype, what kind of sketch it keeps, and the sketch.

    ``family`` is 'numeric' (a :class:`NumericSketch`), 'categorical' (bool and category:
    a :class:`CategoricalSketch`), 'string' (a :class:`CategoricalSketch` that may keep texts)
    or 'other' (datetimes and the like: row counts only).
    """

    name: str
    dtype: str
    family: str
    numeric: NumericSketch | None = None
    categorical: CategoricalSketch | None = None
    rows: int = 0

    @property
    def count(self) -> int:
        """Non-missing (and finite) values."""
        sk = self.numeric or self.categorical
        return sk.count if sk is not None else 0

    @property
    def missing(self) -> int:
        sk = self.numeric or self.categorical
        return sk.missing if sk is not None else self.rows

    @property
    def kind(self) -> str:
        """'numeric' | 'categorical' | 'text' | 'unsupported': the type evidently 0.7 would
        infer for this (reference) column, see :mod:`nbops.monitoring.coltypes`.

        Drift checks type a column from the *current* data, as evidently does; this is the
        reference's own type, for display.
        """
        name = self.dtype
        if name.startswith("float"):
            return "numeric"
        if name.startswith("int") and self.numeric is not None:
            n = self.numeric.n_distinct
            return "categorical" if n is not None and n <= INTEGER_CARDINALITY_LIMIT else "numeric"
        if self.family == "string" and self.categorical is not None:
            return "text" if self.categorical.text_like else "categorical"
        if name in ("bool", "category"):
            return "categorical"
        return "unsupported"

    def category_counts(self) -> dict[Any, int] | None:
        """Value counts as categories (None when unavailable, e.g. a continuous column)."""
        if self.categorical is not None:
            out = dict(self.categorical.counts)
            if self.categorical.other:
                out[OTHER] = self.categorical.other
            return out
        if self.numeric is not None:
            return self.numeric.value_counts()
        return None

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        if self.family != other.family:
            raise UsageError(
                f"Cannot merge profiles: column {self.name!r} is {self.dtype} in one and "
                f"{other.dtype} in the other. Cast the column to one dtype before profiling."
            )
        dtype = self.dtype
        if self.dtype != other.dtype and other.dtype.startswith("float"):
            dtype = other.dtype  # int + float data is float data
        out = ColumnProfile(self.name, dtype, self.family, rows=self.rows + other.rows)
        if self.numeric and other.numeric:
            out.numeric = self.numeric.merge(other.numeric)
        if self.categorical and other.categorical:
            out.categorical = self.categorical.merge(other.categorical)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype, "family": self.family, "kind": self.kind, "rows": self.rows,
            "numeric": self.numeric.to_dict() if self.numeric else None,
            "categorical": self.categorical.to_dict() if self.categorical else None,
        }

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> ColumnProfile:
        return cls(
            name, d["dtype"], d["family"],
            numeric=NumericSketch.from_dict(d["numeric"]) if d["numeric"] else None,
            categorical=CategoricalSketch.from_dict(d["categorical"]) if d["categorical"] else None,
            rows=d["rows"],
        )


def numeric_values(s: pd.Series) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values (nullable dtypes included)."""
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def column_profile(
    name: str, s: pd.Series, *, max_bins: int = DEFAULT_MAX_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES, exact_limit: int = EXACT_LIMIT,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ColumnProfile:
    """Profile of one column; numeric columns are read ``chunk_size`` rows at a time."""
    family = sketch_family(s)
    cp = ColumnProfile(name=name, dtype=str(s.dtype), family=family, rows=len(s))
    if family == "numeric":
        for start in range(0, max(len(s), 1), chunk_size):
            part = NumericSketch.from_array(
                numeric_values(s.iloc[start:start + chunk_size]), max_bins=max_bins,
                exact_limit=exact_limit)
            cp.numeric = part if cp.numeric is None else cp.numeric.merge(part)
    elif family in ("categorical", "string"):
        cp.categorical = CategoricalSketch.from_series(
            s, max_categories=max_categories, texts=family == "string")
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
        if d.get("format") == "nbops.profile" and d.get("version") == 1:
            d = _upgrade_v1(d)
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


_V1_FAMILIES = {"float": "numeric", "int": "numeric", "bool": "categorical",
                "category": "categorical", "string": "string"}


def _upgrade_v1(d: dict[str, Any]) -> dict[str, Any]:
    """A format-1 profile (dense histograms, categories capped at 1,000) as format 2: the same
    counts, a sparse histogram, no HyperLogLog or texts (text columns are then compared on
    their value counts)."""
    columns = {}
    for name, c in d["columns"].items():
        num, cat = c["numeric"], c["categorical"]
        if num is not None:
            dense = _unb64(num["counts"], "<i8")
            occupied = np.flatnonzero(dense)
            num = {**num, "index": _b64((occupied + num["offset"]).astype("<i8")),
                   "counts": _b64(dense[occupied].astype("<i8")),
                   "integral": False}
        if cat is not None:
            cat = {k: cat[k] for k in ("count", "missing", "counts", "other", "max_categories")}
            cat |= {"hll": None, "texts": None}
        sk = num or cat or {"count": 0, "missing": 0}
        columns[name] = {"dtype": c["dtype"], "family": _V1_FAMILIES.get(c["family"], "other"),
                         "rows": sk["count"] + sk["missing"] + sk.get("infinite", 0),
                         "numeric": num, "categorical": cat}
    return {**d, "version": FORMAT_VERSION, "columns": columns}


def profile(
    df: pd.DataFrame, name: str | None = None, *, max_bins: int = DEFAULT_MAX_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES, chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Profile:
    """Profile every column of ``df``.

    ``max_bins`` bounds the occupied bins of each numeric histogram (finer bins track
    evidently's Wasserstein score more closely; numeric columns are read ``chunk_size`` rows at
    a time); ``max_categories`` caps the categories kept per column, the rarest fold into an
    ``__other__`` bucket.

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
    columns = {
        str(c): column_profile(str(c), df[c], max_bins=max_bins, max_categories=max_categories,
                               chunk_size=chunk_size)
        for c in df.columns
    }
    return Profile(columns, rows=len(df), name=name)
