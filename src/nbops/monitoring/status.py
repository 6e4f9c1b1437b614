"""The monitoring status as tags on an MLflow model version.

========================  ==============================================================
tag                       value
========================  ==============================================================
``nbops.monitor.status``      ``ok`` | ``warning`` | ``drift`` | ``error``
``nbops.monitor.report_run``  run id of the monitoring run holding the report
``nbops.monitor.checked_at``  ISO 8601 UTC time of the check
========================  ==============================================================

Example:
    >>> from mlflow import MlflowClient  # doctest: +SKIP
    >>> from nbops.monitoring import set_status  # doctest: +SKIP
    >>> set_status(MlflowClient(), "churn", "3", "drift", report_run_id="a1b2")  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nbops.exceptions import NotFoundError, UsageError, closest
from nbops.monitoring.rules import STATUSES, Status

__all__ = ["TAG_CHECKED_AT", "TAG_REPORT_RUN", "TAG_STATUS", "set_status"]

TAG_STATUS = "nbops.monitor.status"
TAG_REPORT_RUN = "nbops.monitor.report_run"
TAG_CHECKED_AT = "nbops.monitor.checked_at"


def set_status(
    client: Any,
    model_name: str,
    version: str | int,
    status: str | Status,
    report_run_id: str | None = None,
    *,
    checked_at: datetime | None = None,
) -> dict[str, str]:
    """Tag a registered model version with the monitoring status; return the tags set.

    ``client`` is an ``mlflow.MlflowClient``.
    """
    value = status.status if isinstance(status, Status) else status
    if value not in STATUSES:
        raise UsageError(f"status {value!r} is not allowed.{closest(str(value), STATUSES)} "
                         f"Allowed: {list(STATUSES)}.")
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(model_name, str(version))
    except MlflowException as e:
        if getattr(e, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(
                f"Model version {model_name!r} v{version} does not exist in the registry. "
                "List versions with MlflowClient().search_model_versions(...).") from None
        raise
    when = (checked_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    tags = {TAG_STATUS: value, TAG_CHECKED_AT: when}
    if report_run_id:
        tags[TAG_REPORT_RUN] = report_run_id
    for k, v in tags.items():
        client.set_model_version_tag(model_name, str(version), k, v)
    return tags
