"""Dataset fingerprints and data I/O hooks (lineage edges).

    >>> from nbops.data import fingerprint, capture_io
    >>> fp = fingerprint("data/train.csv")          # doctest: +SKIP
    >>> fp.to_tags("train")                         # doctest: +SKIP

``import nbops.data`` imports neither numpy, pandas nor torch; they are used only when the
object you pass comes from them. See docs/datasets.md for what is part of a dataset's identity.
"""

from __future__ import annotations

from nbops.data._hashing import ALGORITHMS
from nbops.data.fingerprint import Fingerprint, fingerprint
from nbops.data.io_hooks import HOOKED_FUNCTIONS, IOCapture, IOEvent, capture_io

__all__ = [
    "ALGORITHMS",
    "HOOKED_FUNCTIONS",
    "Fingerprint",
    "IOCapture",
    "IOEvent",
    "capture_io",
    "fingerprint",
]
