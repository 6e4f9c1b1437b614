"""Small mergeable sketches used by profiles: distinct counts and a sample of texts.

:class:`HyperLogLog` estimates a column's number of distinct values and merges by taking the
register-wise maximum, so chunks and separately built profiles combine in any order
(precision 14: 16,384 one-byte registers, standard error about 0.8 %).

:class:`TextSample` keeps the texts of a column while there are at most ``size`` of them, in
row order; past that it keeps the ``size`` texts with the smallest hashes (a bottom-k sample):
the same texts whatever the chunking or merge order, a uniform sample of the distinct texts
(copies of one text are kept or dropped together).

Example:
    >>> import numpy as np
    >>> from nbops.monitoring.sketches import HyperLogLog
    >>> h = HyperLogLog.from_values(np.array([f"id{i}" for i in range(50_000)], dtype=object))
    >>> abs(h.estimate() - 50_000) < 2_000
    True
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["HyperLogLog", "TextSample", "hash_values"]

HLL_PRECISION = 14
TEXT_SAMPLE_SIZE = 5000


def hash_values(values: np.ndarray) -> np.ndarray:
    """64-bit hashes of the values (pandas' stable hash: same value, same hash, every run)."""
    import pandas as pd

    return pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)


@dataclass
class HyperLogLog:
    """HyperLogLog distinct-count estimate (Flajolet et al. 2007, with linear counting for
    small cardinalities)."""

    registers: np.ndarray = field(
        default_factory=lambda: np.zeros(1 << HLL_PRECISION, dtype=np.uint8))

    @classmethod
    def from_values(cls, values: np.ndarray) -> HyperLogLog:
        """Sketch of the distinct values in ``values`` (no missing values expected)."""
        h = cls()
        h.add_hashes(hash_values(values))
        return h

    def add_hashes(self, hashes: np.ndarray) -> None:
        p = HLL_PRECISION
        hashes = np.asarray(hashes, dtype=np.uint64)
        index = (hashes >> np.uint64(64 - p)).astype(np.int64)
        rest = (hashes & np.uint64((1 << (64 - p)) - 1)).astype(np.float64)  # < 2**50: exact
        bit_length = np.where(rest > 0, np.frexp(rest)[1], 0)
        rank = (64 - p - bit_length + 1).astype(np.uint8)
        np.maximum.at(self.registers, index, rank)

    def merge(self, other: HyperLogLog) -> HyperLogLog:
        return HyperLogLog(np.maximum(self.registers, other.registers))

    def estimate(self) -> float:
        m = self.registers.size
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int64))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return m * math.log(m / zeros)
        return raw

    def to_text(self) -> str:
        return base64.b64encode(zlib.compress(self.registers.tobytes(), 6)).decode()

    @classmethod
    def from_text(cls, text: str) -> HyperLogLog:
        raw = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8).copy()
        return cls(raw)


@dataclass
class TextSample:
    """Texts of a column: all of them in row order up to ``size``, then a bottom-k sample."""

    texts: list[str] = field(default_factory=list)
    sampled: bool = False
    size: int = TEXT_SAMPLE_SIZE

    @classmethod
    def from_values(cls, values: np.ndarray, size: int = TEXT_SAMPLE_SIZE) -> TextSample:
        values = np.asarray(values, dtype=object)
        if values.size <= size:
            return cls([str(v) for v in values], False, size)
        keep = np.argsort(hash_values(values), kind="stable")[:size]
        return cls([str(v) for v in values[keep]], True, size)

    def _cap(self) -> TextSample:
        if len(self.texts) > self.size:
            arr = np.asarray(self.texts, dtype=object)
            h = hash_values(arr)
            keep = np.argsort(h, kind="stable")[: self.size]
            self.texts = arr[keep].tolist()
            self.sampled = True
        return self

    def merge(self, other: TextSample) -> TextSample:
        return TextSample(self.texts + other.texts, self.sampled or other.sampled,
                          min(self.size, other.size))._cap()

    def to_dict(self) -> dict[str, Any]:
        return {"texts": self.texts, "sampled": self.sampled, "size": self.size}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextSample:
        return cls(list(d["texts"]), bool(d["sampled"]), int(d["size"]))
