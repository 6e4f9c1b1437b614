"""The store: the one package of nbops that talks to MLflow.

- :class:`Store` (``store/client.py``): typed calls to the tracking store and the model
  registry, paged, time-bounded, their failures turned into nbops errors by one rule
  (``store/errors.py``).
- ``store/models.py``: MLflow's model format (log, download, load, signature) bound to a store.
- ``store/embedded.py``: the embedded SQLite store, built atomically.
- ``store/tags.py``: every tag name nbops writes.

Importing this package does not import MLflow; the first call does.
"""

from nbops.store.client import Store, open_store
from nbops.store.errors import is_retryable, translate

__all__ = ["Store", "is_retryable", "open_store", "translate"]
