"""The monitoring status as tags on an MLflow model version.

========================  ==============================================================
tag                       value
========================  ==============================================================
``nbops.monitor.status``      ``ok`` | ``warning`` | ``drift`` | ``error``
``nbops.monitor.report_run``  run id of the monitoring run holding the report
``nbops.monitor.checked_at``  ISO 8601 UTC time of the check
========================  ==============================================================

Example:
    >>> from nbops.monitoring import set_status  # doctest: +SKIP
    >>> set_status(None, "churn", "3", "drift", report_run_id="a1b2")  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nbops.exceptions import NotFoundError, UsageError, closest
from nbops.monitoring.rules import STATUSES, Status
from nbops.store import open_store
from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store import Store

__all__ = ["TAG_CHECKED_AT", "TAG_REPORT_RUN", "TAG_STATUS", "set_status"]

TAG_STATUS = T.MONITOR_STATUS
TAG_REPORT_RUN = T.MONITOR_REPORT_RUN
TAG_CHECKED_AT = T.MONITOR_CHECKED_AT


def set_status(
    store: Store | None,
    model_name: str,
    version: str | int,
    status: str | Status,
    report_run_id: str | None = None,
    *,
    checked_at: datetime | None = None,
) -> dict[str, str]:
    """Tag a registered model version with the monitoring status; return the tags set.

    ``store``: the :class:`nbops.store.Store` to write to (None: the settings in force).
    """
    value = status.status if isinstance(status, Status) else status
    if value not in STATUSES:
        raise UsageError(f"status {value!r} is not allowed.{closest(str(value), STATUSES)} "
                         f"Allowed: {list(STATUSES)}.")
    store = store or open_store()
    try:
        store.model_version(model_name, version)
    except NotFoundError:
        raise NotFoundError(
            f"Model version {model_name!r} v{version} does not exist in the registry. "
            f"List its versions with `nbops registry versions {model_name}`.") from None
    when = (checked_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    tags = {TAG_STATUS: value, TAG_CHECKED_AT: when}
    if report_run_id:
        tags[TAG_REPORT_RUN] = report_run_id
    for k, v in tags.items():
        store.set_version_tag(model_name, version, k, v)
    return tags
