"""The executed snapshot notebook of a run, read-only, without path traversal.

A tracked run keeps ``notebook/history.ipynb`` (the cells as they ran, with outputs) and may keep
the saved ``notebook/<name>.ipynb``, the notebook as the user wrote it: when no ``path`` is asked
for, that saved notebook is served, else the history. A run with no snapshot (a pipeline step's
child run, e.g. a monitoring report) serves its parent run's. Only those artifact paths are
served: ``path`` must be ``notebook/<file>.ipynb`` with no other folder, and it must be listed in
the run's artifacts.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from nbops.exceptions import NotFoundError, UsageError
from nbops.server.contract import NotebookSnapshot
from nbops.store import Store
from nbops.store import tags as T

__all__ = ["DEFAULT_PATH", "MAX_BYTES", "check_path", "read_snapshot", "read_text_artifact"]

DEFAULT_PATH = "notebook/history.ipynb"
MAX_BYTES = 50 * 1024 * 1024
_PATH = re.compile(r"^notebook/[^/\\]+\.ipynb$")


def read_text_artifact(store: Store, run_id: str, path: str, max_bytes: int) -> str:
    """The text of artifact ``path`` of ``run_id``; UsageError when it exceeds ``max_bytes``."""
    with tempfile.TemporaryDirectory(prefix="nbops-artifact-") as tmp:
        local = Path(store.download_artifacts(run_id, path, tmp))
        if local.stat().st_size > max_bytes:
            raise UsageError(f"{path} of run {run_id} is larger than {max_bytes >> 20} MB; "
                             "download it with `mlflow artifacts download` instead.")
        return local.read_text(encoding="utf-8", errors="replace")


def check_path(path: str) -> str:
    """``path`` when it names a notebook directly under ``notebook/``; else UsageError (400)."""
    if not _PATH.match(path) or ".." in path or "\x00" in path:
        raise UsageError(f"path {path!r} is not a snapshot notebook: it must be "
                         "notebook/<name>.ipynb, e.g. notebook/history.ipynb.")
    return path


def _notebooks(store: Store, run_id: str) -> list[str]:
    return [f.path for f in store.list_artifacts(run_id, "notebook")
            if not f.is_dir and f.path.endswith(".ipynb")]


def read_snapshot(store: Store, run_id: str, path: str | None = None) -> NotebookSnapshot:
    """Download and parse one snapshot notebook of ``run_id``."""
    run = store.run(run_id)  # 404 for an unknown run before touching artifacts
    listed = _notebooks(store, run_id)
    parent = (run.data.tags or {}).get(T.PARENT_RUN)
    if not path and not listed and parent:
        parent_listed = _notebooks(store, parent)
        if parent_listed:
            run_id, listed = parent, parent_listed
    if path:
        check_path(path)
        if path not in listed:
            raise NotFoundError(f"Run {run_id} has no artifact {path!r}; it has "
                                f"{listed or 'no notebook snapshot'}.")
        chosen = path
    elif saved := sorted(p for p in listed if p != DEFAULT_PATH):
        chosen = saved[0]
    elif listed:
        chosen = DEFAULT_PATH
    else:
        raise NotFoundError(f"Run {run_id} has no notebook snapshot (notebook/*.ipynb). Runs "
                            "tracked with %%track keep one unless notebook capture is off.")
    try:
        notebook = json.loads(read_text_artifact(store, run_id, chosen, MAX_BYTES))
    except ValueError as exc:
        raise UsageError(f"{chosen} of run {run_id} is not valid notebook JSON: {exc}.") from None
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise UsageError(f"{chosen} of run {run_id} is not an nbformat 4 notebook.")
    return NotebookSnapshot(run_id=run_id, path=chosen, notebook=notebook)
