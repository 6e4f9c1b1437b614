"""Is an MLflow server there, and does it answer? Without importing MLflow."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

__all__ = ["health", "is_remote", "probe"]


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


def health(uri: str, timeout: float = 2.0) -> str | None:
    """Whether the server of ``uri`` answers its ``/health`` endpoint (MLflow serves it without
    authentication) within ``timeout`` seconds: a sentence when it does not, else None (also
    for stores that are not servers). A server that accepts connections but never answers is
    caught here, where :func:`probe` sees it up. Never raises."""
    down = probe(uri, timeout=min(timeout, 0.5))
    if down or not is_remote(uri):
        return down
    import ssl
    import urllib.error
    import urllib.request

    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            if answer.status == 200:
                return None
            return f"tracking store {uri} answered {answer.status} at {url}; check the server's log"
    except ssl.SSLError:
        return None  # it answered; certificates are the tracking client's business
    except urllib.error.HTTPError as exc:
        return (f"tracking store {uri} answered {exc.code} at {url}: it may not be an MLflow "
                "server, or it is failing; check the URI and the server's log")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)  # URLError wraps the connection's error
        if isinstance(reason, TimeoutError):
            return (f"tracking store {uri} accepts connections but did not answer {url} within "
                    f"{timeout:g} s; the server is hung or overloaded: check it, or restart it")
        return f"tracking store {uri} did not answer {url} ({reason}); check the server"
