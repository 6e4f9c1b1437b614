"""The capture jobs of a run: what it records besides what the user logs.

Each job runs in the durable logger's worker thread (``logger.submit_job``), off the cell's
path, and returns the events that log its tags and files: at the start of a run, code, git and
environment; at its end, the local modules it imported and, for a ``%%track`` cell, the
session's history notebook and the saved ``.ipynb``. Files are written (redacted) to the run's
staging folder and shipped from there as artifacts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.store import tags as T
from nbops.tracking import capture
from nbops.tracking.environment import installed_packages
from nbops.tracking.redact import Redactor

if TYPE_CHECKING:
    from nbops.tracking.handle import Run

__all__ = ["artifact_events", "end_of_cell", "imported_modules", "start_of_run"]


def start_of_run(run: Run, source: str | None, skip: set[str], redact: Redactor,
                 staging: Path, home: Path | None = None) -> list[tuple]:
    """Code (the cell, or the script run), command line, git state and environment (the
    package list remembered in ``home``)."""
    tags: dict[str, str] = {}
    files: list[tuple[str, str]] = []
    if source is not None and "code" not in skip:
        files.append(("code/cell.py", redact.text(source)))
    elif source is None and "code" not in skip and sys.argv and sys.argv[0].endswith(".py"):
        script = Path(sys.argv[0])
        if script.is_file():
            files.append((f"code/{script.name}",
                          redact.text(script.read_text(encoding="utf-8", errors="replace"))))
    if "code" not in skip:
        tags[T.COMMAND] = redact.text(" ".join(sys.argv))[:5000]
    if "git" not in skip:
        git = capture.git_state(Path.cwd())
        if git is not None:
            tags.update({T.GIT_COMMIT: git.commit,
                         T.GIT_BRANCH: git.branch,
                         T.GIT_DIRTY: str(git.dirty).lower()})
            if git.remote:
                tags[T.GIT_REPO_URL] = redact.text(git.remote)
            if git.diff:
                files.append(("git/diff.patch", redact.text(git.diff)))
            run.git_root = git.root  # local modules are read at the run's end
    if "env" not in skip:
        tags.update(capture.environment_info())
        packages, digest = installed_packages(home)
        tags[T.ENV_DIGEST] = digest
        files.append(("environment/requirements.txt", packages))
        files.append(("environment/env.txt", capture.environment_variables(redact)))
    return artifact_events(run, tags, files, staging)


def imported_modules(run: Run, redact: Redactor, staging: Path) -> list[tuple]:
    """Changes to the local modules (inside the run's git repository) the run imported."""
    if not run.git_root:
        return []
    modules = capture.imported_module_changes(run.git_root, dict(sys.modules))
    if not modules:
        return []
    return artifact_events(run, {}, [("git/imported_modules.patch", redact.text(modules))],
                           staging)


def end_of_cell(run: Run, notebook: Path | None, inputs: list[str] | None,
                outputs: dict[int, Any] | None, redact: Redactor, staging: Path) -> list[tuple]:
    """The session's history notebook (cells in execution order) and the saved notebook."""
    files: list[tuple[str, str]] = []
    if inputs is not None:
        files.append(("notebook/history.ipynb",
                      capture.history_notebook(inputs, outputs or {}, redact)))
    if notebook is not None and notebook.is_file():
        text = notebook.read_text(encoding="utf-8", errors="replace")
        files.append((f"notebook/{notebook.name}", redact.text(text)))
    return artifact_events(run, {}, files, staging)


def artifact_events(run: Run, tags: dict[str, str], files: list[tuple[str, str]],
                    staging: Path) -> list[tuple]:
    """Write text ``files`` ``[(artifact path, text)]`` of ``run`` under ``staging`` and return
    the events that log them (and ``tags``): what a job given to ``logger.submit_job``
    returns."""
    events: list[tuple] = []
    if tags:
        events.append((run.uid, "tags", tags))
    for artifact_file, text in files:
        target = staging / "capture" / artifact_file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        parent = str(Path(artifact_file).parent)
        events.append((run.uid, "artifact", {"path": str(target), "artifact_path": parent,
                                             "staged": True}))
        run.artifacts.append(artifact_file)
    return events
