"""The environment a run executed in, as nbops identifies it: the installed packages of the
interpreter (``environment/requirements.txt``) and their digest, :func:`environment_digest`.

That one digest is the run's tag ``nbops.env.digest`` and the environment part of a pipeline
step's cache key: a step run's tag is the digest inside its key.

Listing the packages takes a tenth of a second of CPU or more (every installed distribution's
metadata is read), so the list and its digest are kept, in the process and in
``<home>/environment-digest.json`` for the next processes, stamped with the
interpreter and the modification times of the package folders on ``sys.path``
(``site-packages``, ``dist-packages``: installing or removing a package changes them), and
computed again only when the stamp changes. Other ``sys.path`` entries (the script's or the
current folder, ``PYTHONPATH``) are left out of the stamp: any file written there would change
it. So processes of one interpreter share one list, whatever else they have on their path.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path

from nbops.tracking.capture import package_list

__all__ = ["environment_digest", "installed_packages", "installed_packages_digest"]

_cache: tuple[list[str], str] | None = None
_lock = threading.Lock()


def environment_digest(packages: str) -> str:
    """The digest of an environment: the SHA-256 (64 hex digits) of its package list."""
    return hashlib.sha256(packages.encode()).hexdigest()


def installed_packages(home: Path | None = None) -> tuple[str, str]:
    """``(package list, digest)`` of this interpreter: ``name==version`` lines and
    :func:`environment_digest` of them. With ``home``, both are remembered in
    ``<home>/environment-digest.json`` until the stamp changes: the next process (a step's
    kernel, the next run, a fully cached pipeline run) reads them instead of listing the
    packages again."""
    stamp = _stamp()
    remembered = _remembered(home, stamp)
    if remembered is not None:
        return remembered
    global _cache
    with _lock:
        if _cache is None or _cache[0] != stamp:
            _cache = (stamp, package_list())
        text = _cache[1]
    digest = environment_digest(text)
    if home is not None:
        _remember(home, stamp, text, digest)
    return text, digest


def installed_packages_digest(home: Path | None = None) -> str:
    """:func:`environment_digest` of this interpreter's packages (remembered in ``home``, as
    :func:`installed_packages` does)."""
    return installed_packages(home)[1]


def _remembered(home: Path | None, stamp: list[str]) -> tuple[str, str] | None:
    if home is None:
        return None
    try:
        data = json.loads((home / "environment-digest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (isinstance(data, dict) and data.get("stamp") == stamp
            and isinstance(data.get("packages"), str) and isinstance(data.get("digest"), str)):
        return data["packages"], data["digest"]
    return None  # another stamp, or a file of an older nbops (no package list)


def _remember(home: Path, stamp: list[str], text: str, digest: str) -> None:
    """Best effort: a folder that cannot be written only means listing again next time."""
    saved = home / "environment-digest.json"
    tmp = saved.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        home.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"stamp": stamp, "digest": digest, "packages": text}),
                       encoding="utf-8")
        os.replace(tmp, saved)
    except OSError:
        tmp.unlink(missing_ok=True)


def _stamp() -> list[str]:
    return [sys.executable, *(f"{p}:{_mtime(p)}" for p in sys.path
                              if Path(p).name in ("site-packages", "dist-packages"))]


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
