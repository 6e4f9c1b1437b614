"""The installed packages of this interpreter, as a run records them
(``environment/requirements.txt`` and the tag ``nbops.env.digest``).

Listing the packages takes about a second, so the list is kept for the process and listed again
only when a folder on ``sys.path`` changes (installing or removing a package does).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading

from nbops.tracking.capture import package_list

__all__ = ["installed_packages"]

_cache: tuple[tuple[float, ...], str] | None = None
_lock = threading.Lock()


def installed_packages() -> tuple[str, str]:
    """``(package list, digest)``: ``name==version`` lines and the digest of that text."""
    global _cache
    stamp = tuple(_mtime(p) for p in sys.path)
    with _lock:
        if _cache is None or _cache[0] != stamp:
            _cache = (stamp, package_list())
        text = _cache[1]
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
