"""MLflow's artifact progress bar, off for nbops' own downloads."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_downloads"]

_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_quiet_lock = threading.Lock()
_quiet_blocks = 0  # blocks running quiet_downloads(); the variable is restored by the last one
_quiet_owned = False  # whether nbops set the variable (the user's own value is never touched)


@contextmanager
def quiet_downloads() -> Iterator[None]:
    """No "Downloading artifacts" progress bar from MLflow for nbops' own downloads.

    MLflow reads this only from ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``, at each download; it
    is set to false while any such block runs and removed after. A value the user set is never
    touched. (The one environment variable nbops sets for MLflow: the bar has no other switch.)
    """
    global _quiet_blocks, _quiet_owned
    with _quiet_lock:
        if _quiet_blocks == 0 and _PROGRESS_BAR not in os.environ:
            os.environ[_PROGRESS_BAR] = "false"
            _quiet_owned = True
        _quiet_blocks += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_blocks -= 1
            if _quiet_blocks == 0 and _quiet_owned:
                os.environ.pop(_PROGRESS_BAR, None)
                _quiet_owned = False
