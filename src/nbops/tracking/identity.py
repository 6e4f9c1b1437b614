"""Who and what a run is attributed to: the user (``mlflow.user``, audit records), the nbops
version (``nbops.version``) and the experiment a run goes to when none is named."""

from __future__ import annotations

import functools
import getpass
from pathlib import Path

from nbops._version import __version__
from nbops.config import user_name

__all__ = ["current_user", "default_experiment", "nbops_version"]


def current_user() -> str:
    """``JUPYTERHUB_USER``, else ``NBOPS_USER``, else the OS user (``mlflow.user``, audit)."""
    return user_name() or _os_user()


@functools.cache
def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def nbops_version() -> str:
    """The version of nbops that records the run (tag ``nbops.version``)."""
    return __version__


def default_experiment(source_name: str | None, root: Path) -> str:
    """The notebook's name, else the project folder's name (never MLflow's 'Default', whose
    artifact folder is relative to whatever the working directory happens to be)."""
    if source_name and source_name.endswith(".ipynb"):
        return Path(source_name).stem
    return root.name or "nbops"
