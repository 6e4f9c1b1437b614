"""Moved to :mod:`nbops.store.embedded`; kept while callers move."""

from nbops.store.embedded import (  # noqa: F401
    StoreProblem,
    ensure_sqlite_store,
    ensure_store,
    sqlite_path,
    store_problem,
)
