"""How old the model and its training data are.

Times may be ``datetime`` (naive means UTC), ISO 8601 strings, or epoch milliseconds (what
MLflow stores as ``creation_timestamp``).

Example:
    >>> from nbops.monitoring import staleness
    >>> s = staleness("2026-01-01T00:00:00Z", "2025-12-25", now="2026-01-31T00:00:00Z")
    >>> s.model_age_days, s.data_age_days, s.data_lag_days
    (30.0, 37.0, 7.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from nbops.exceptions import UsageError

__all__ = ["Staleness", "staleness", "to_datetime"]

_DAY = 86400.0


def to_datetime(value: Any, what: str = "time") -> datetime:
    """A timezone-aware UTC datetime from a datetime, ISO string or epoch milliseconds."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(value / 1000.0, tz=UTC)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{what}={value!r} is not an ISO 8601 time such as "
                             "'2026-01-31T12:00:00Z'.") from None
    else:
        raise UsageError(f"{what} must be a datetime, an ISO 8601 string or epoch milliseconds, "
                         f"got {type(value).__name__}.")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass(frozen=True)
class Staleness:
    """Ages in days: the model, its training data, and the gap between the two."""

    model_age_days: float
    data_age_days: float | None
    data_lag_days: float | None
    checked_at: str

    def to_metrics(self) -> dict[str, float]:
        out = {"staleness.model_age_days": self.model_age_days}
        if self.data_age_days is not None:
            out["staleness.data_age_days"] = self.data_age_days
        if self.data_lag_days is not None:
            out["staleness.data_lag_days"] = self.data_lag_days
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def staleness(model_created: Any, data_created: Any = None, now: Any = None) -> Staleness:
    """Model age, data age and data lag (model time − data time), all in days.

    Example:
        >>> from datetime import datetime, UTC
        >>> from nbops.monitoring import staleness
        >>> staleness(0, now=datetime(1970, 1, 3, tzinfo=UTC)).model_age_days
        2.0
    """
    now_dt = datetime.now(UTC) if now is None else to_datetime(now, "now")
    model_dt = to_datetime(model_created, "model_created")
    data_dt = None if data_created is None else to_datetime(data_created, "data_created")
    return Staleness(
        model_age_days=(now_dt - model_dt).total_seconds() / _DAY,
        data_age_days=None if data_dt is None else (now_dt - data_dt).total_seconds() / _DAY,
        data_lag_days=None if data_dt is None else (model_dt - data_dt).total_seconds() / _DAY,
        checked_at=now_dt.isoformat(),
    )
