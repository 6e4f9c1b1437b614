"""The environment a run executed in, as nbops identifies it: the installed packages of the
interpreter (``environment/requirements.txt``) and their digest, :func:`environment_digest`.

That one digest is the run's tag ``nbops.env.digest`` and the environment part of a pipeline
step's cache key: a step run's tag is the digest inside its key.

Listing the packages takes about a second, so both the list (for the process) and the digest
(in ``<home>/environment-digest.json``, across processes) are kept, stamped with the
interpreter and the modification times of the package folders on ``sys.path``
(``site-packages``, ``dist-packages``: installing or removing a package changes them), and
computed again only when the stamp changes. Other ``sys.path`` entries (the script's or the
current folder) are left out of the stamp: any file written there would change it.
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


def installed_packages() -> tuple[str, str]:
    """``(package list, digest)`` of this interpreter: ``name==version`` lines and
    :func:`environment_digest` of them."""
    global _cache
    stamp = _stamp()
    with _lock:
        if _cache is None or _cache[0] != stamp:
            _cache = (stamp, package_list())
        text = _cache[1]
    return text, environment_digest(text)


def installed_packages_digest(home: Path | None = None) -> str:
    """:func:`environment_digest` of this interpreter's packages, remembered in
    ``<home>/environment-digest.json`` until the stamp changes (a process that only needs the
    digest, such as a fully cached pipeline run, does not list the packages)."""
    stamp = _stamp()
    saved = home / "environment-digest.json" if home else None
    if saved is not None:
        try:
            data = json.loads(saved.read_text(encoding="utf-8"))
            if data.get("stamp") == stamp:
                return str(data["digest"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    digest = installed_packages()[1]
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        tmp = saved.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "digest": digest}), encoding="utf-8")
        os.replace(tmp, saved)
    return digest


def _stamp() -> list[str]:
    return [sys.executable, *(f"{p}:{_mtime(p)}" for p in sys.path
                              if Path(p).name in ("site-packages", "dist-packages"))]


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
