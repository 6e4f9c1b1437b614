"""Whether this process may write to the model registry (``NBOPS_REGISTRY_WRITES``)."""

from __future__ import annotations

import warnings

from nbops.config import load_settings

__all__ = ["registry_writes_allowed"]


def registry_writes_allowed(what: str) -> bool:
    """False, with one warning naming ``what`` was skipped, when the settings turn registry
    writes off (``NBOPS_REGISTRY_WRITES=0``, as ``nbops reproduce`` does for the notebook it
    re-executes): then no model version is registered and no alias moves."""
    if load_settings().registry_writes:
        return True
    warnings.warn(f"nbops: {what} skipped: registry writes are off (NBOPS_REGISTRY_WRITES=0; "
                  "`nbops reproduce --register` turns them on).", stacklevel=3)
    return False
