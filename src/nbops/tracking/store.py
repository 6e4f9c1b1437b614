"""Moved to :mod:`nbops.store`; kept while callers move."""

from nbops.config import Settings
from nbops.exceptions import PermanentStoreError
from nbops.store.check import check_config
from nbops.store.client import Store, open_store
from nbops.store.errors import is_retryable as is_outage

__all__ = ["MlflowStore", "PermanentStoreError", "check_config", "is_outage"]


def MlflowStore(settings: Settings) -> Store:  # noqa: N802 - the old class name
    return open_store(settings)
