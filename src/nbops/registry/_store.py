"""The MLflow client the registry uses, and MLflow failures turned into nbops errors.

MLflow is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from nbops.exceptions import StoreUnavailableError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["call", "client_for", "client_for_uri", "quiet_downloads", "registry_writes_allowed",
           "store_errors", "tracking_uri_of", "use_tracking_uri"]

T = TypeVar("T")

_clients: dict[str, Any] = {}
_lock = threading.Lock()
# MLflow's model logging reads the *global* tracking URI; swapping it is serialized.
_uri_lock = threading.RLock()

# MLflow error codes that mean "the store could not answer", not "your request is wrong".
_UNAVAILABLE = {"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"}


def client_for(client: MlflowClient | None = None) -> MlflowClient:
    """``client`` itself, or a cached ``MlflowClient`` for the tracking store of the settings
    in force (``nbops.config.load_settings()``)."""
    if client is not None:
        return client
    from nbops.config import load_settings

    return client_for_uri(load_settings().tracking_uri)


def client_for_uri(uri: str) -> MlflowClient:
    """A cached ``MlflowClient`` whose tracking and registry URI is ``uri``."""
    with _lock:
        if uri not in _clients:
            from mlflow import MlflowClient

            from nbops.tracking.embedded import ensure_store

            ensure_store(uri)  # a new SQLite store is built atomically, not in place
            _clients[uri] = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return _clients[uri]


def registry_writes_allowed(what: str) -> bool:
    """False, with one warning naming ``what`` was skipped, when the settings turn registry
    writes off (``NBOPS_REGISTRY_WRITES=0``, as ``nbops reproduce`` does for the notebook it
    re-executes): then no model version is registered and no alias moves."""
    from nbops.config import load_settings

    if load_settings().registry_writes:
        return True
    import warnings

    warnings.warn(f"nbops: {what} skipped: registry writes are off (NBOPS_REGISTRY_WRITES=0; "
                  "`nbops reproduce --register` turns them on).", stacklevel=3)
    return False


_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_quiet_lock = threading.Lock()
_quiet_blocks = 0  # blocks running quiet_downloads(); the variable is restored by the last one
_quiet_owned = False  # whether nbops set the variable (the user's own value is never touched)


@contextmanager
def quiet_downloads() -> Iterator[None]:
    """No "Downloading artifacts" progress bar from MLflow for nbops' own downloads in the block.

    MLflow reads this only from ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``, at each download; it
    is set to false for the block and removed after (when the user set it, their value stays).
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


def tracking_uri_of(client: MlflowClient) -> str:
    """The tracking URI a client talks to."""
    return str(client._tracking_client.tracking_uri)


@contextmanager
def use_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's global tracking and registry URIs at ``uri`` for the block.

    MLflow's model logging and its SQL model registry look the store up through the global
    URI, whatever client called them; this keeps them on the store nbops uses.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    env_keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    with _uri_lock:
        old_env = {k: os.environ.get(k) for k in env_keys}
        old_tracking = tracking_utils._tracking_uri
        old_registry = registry_utils._registry_uri
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(old_tracking)
            registry_utils._registry_uri = old_registry
            for key, value in old_env.items():  # MLflow's setters also export these
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the store did not answer (down, locked, overloaded), as opposed
    to MLflow refusing the request."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        text = str(exc.message)
        return (
            exc.error_code in _UNAVAILABLE
            or exc.get_http_status_code() in (502, 503, 504)
            or ("API request to" in text and "failed with exception" in text)
            or any(s in text for s in ("database is locked", "unable to open database",
                                       "OperationalError"))
        )
    if type(exc).__name__ == "OperationalError":  # sqlalchemy / sqlite3
        return True
    return isinstance(exc, OSError | ConnectionError | TimeoutError)


@contextmanager
def store_errors(what: str, client: MlflowClient | None = None) -> Iterator[None]:
    """Turn an MLflow "store did not answer" failure inside the block into
    :class:`StoreUnavailableError` naming ``what`` was being done; other errors pass through."""
    try:
        yield
    except Exception as exc:
        if not _is_unavailable(exc):
            raise
        uri = tracking_uri_of(client) if client is not None else "the tracking store"
        message = getattr(exc, "message", None) or str(exc)
        raise StoreUnavailableError(
            f"The tracking store {uri} failed while {what}: {message.splitlines()[0][:300]}. "
            "Check that the store is reachable (`nbops status`), then run the same call again."
        ) from exc


def call(client: MlflowClient, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` with :func:`store_errors`."""
    with store_errors(what, client):
        return fn(*args, **kwargs)


def error_code(exc: BaseException) -> str:
    """MLflow's error code of ``exc`` ("" for anything else)."""
    return str(getattr(exc, "error_code", "") or "")
