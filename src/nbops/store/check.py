"""Configurations of the tracking store that can never work, found before a run starts."""

from __future__ import annotations

import time
from urllib.parse import urlparse

from nbops.config import Settings, mlflow_file_store_allowed
from nbops.exceptions import ConfigError, StoreUnavailableError
from nbops.store.embedded import sqlite_path

__all__ = ["KNOWN_SCHEMES", "check_config"]

#: URI schemes MLflow can track to (the part before ``+`` for SQLAlchemy dialects).
KNOWN_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks",
                 "databricks-uc", "uc", "file")


def check_config(settings: Settings) -> None:
    """Fail fast, with a fix-it message, for a store configuration that can never work.

    Only what no retry can fix is checked here: a malformed URI, an unknown scheme, a SQLite
    folder that cannot be written. A server that is down is *not* an error at start: runs are
    spooled and ship when it is back.
    """
    uri = settings.tracking_uri
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+", 1)[0].lower()
    if scheme == "" and uri.strip():
        scheme = "file"  # a plain path: MLflow's file store
    if scheme not in KNOWN_SCHEMES:
        raise ConfigError(
            f"The tracking URI {uri!r} has no scheme MLflow knows ({scheme or 'none'!s}). Use "
            "http(s)://host:port for an MLflow server, sqlite:////abs/path/mlflow.db or "
            "postgresql://... for a database, or unset MLFLOW_TRACKING_URI / "
            f"NBOPS_TRACKING_URI to use the embedded store under {settings.home}."
        )
    if scheme in ("http", "https") and not parsed.hostname:
        raise ConfigError(
            f"The tracking URI {uri!r} names no host. Write it as {scheme}://HOST:PORT, e.g. "
            "http://127.0.0.1:5000."
        )
    if scheme == "file" and not mlflow_file_store_allowed():
        raise ConfigError(
            f"The tracking URI {uri!r} is an MLflow file store, which MLflow 3 refuses unless "
            "MLFLOW_ALLOW_FILE_STORE=true. Unset the URI to use the embedded SQLite store under "
            f"{settings.home}, or point it at sqlite:///... or an MLflow server."
        )
    db_file = sqlite_path(uri)
    if scheme == "sqlite" and db_file is not None:
        folder = db_file.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot create the folder {folder} of the SQLite store {uri}: {exc.strerror}. "
                "Point NBOPS_HOME or the tracking URI at a writable folder."
            ) from None
        probe = folder / f".nbops-write-probe-{time.time_ns()}"
        try:
            probe.touch()
            probe.unlink()
        except OSError:
            raise StoreUnavailableError(
                f"The folder {folder} of the SQLite store {uri} is not writable. Fix its "
                "permissions or point NBOPS_HOME at a writable folder."
            ) from None
