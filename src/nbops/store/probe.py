"""Is an MLflow server there at all? One TCP connect, without importing MLflow."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

__all__ = ["is_remote", "probe"]


def is_remote(uri: str) -> bool:
    """True for an MLflow server (``http(s)://``), whose calls cross the network."""
    return urlparse(uri).scheme in ("http", "https")


def probe(uri: str, timeout: float = 0.5) -> str | None:
    """One TCP connect to the server of ``uri``: a sentence when it is down, else None (also
    for stores that are not servers). Never raises."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "localhost", port), timeout=timeout):
            return None
    except OSError as exc:
        return f"tracking store {uri} is unreachable ({exc.strerror or exc})"
