"""Alerts: POST a JSON payload to a webhook (Slack, Teams, a pager bridge ...).

Example:
    >>> from nbops.monitoring import post_alert
    >>> post_alert("http://127.0.0.1:9/", {"status": "drift"}, timeout=0.5)  # doctest: +SKIP
    200
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from nbops.exceptions import MonitoringError, UsageError

__all__ = ["post_alert"]


def post_alert(url: str, payload: Mapping[str, Any], timeout: float = 5.0) -> int:
    """POST ``payload`` as JSON to ``url``; return the HTTP status code.

    Raises :class:`MonitoringError` when the endpoint cannot be reached or answers with an
    error status; the caller decides whether a failed alert should fail the monitor.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise UsageError(f"Alert URL must start with http:// or https://, got {url!r}.")
    try:
        body = json.dumps(payload, default=str).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise UsageError(f"Alert payload cannot be encoded as JSON ({e}); pass plain "
                         "dicts, lists, strings and numbers.") from None
    req = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "nbops-monitor"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            return int(resp.status)
    except urllib.error.HTTPError as e:
        raise MonitoringError(f"Alert webhook {url} answered HTTP {e.code} {e.reason}. Check the "
                              "URL and the receiving service's logs.") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise MonitoringError(f"Alert webhook {url} could not be reached ({reason}) within "
                              f"{timeout}s. Check the URL and the network.") from None
