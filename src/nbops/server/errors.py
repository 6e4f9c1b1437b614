"""One mapping from errors to HTTP statuses for every ``/nbops/api/`` handler.

=============================================  ======  ===================
raised                                         status  ``reason``
=============================================  ======  ===================
``UsageError``, MLflow ``INVALID_PARAMETER``    400     validation
``NotFoundError``, MLflow ``RESOURCE_DOES_NOT``  404     not_found
``ConflictError``, MLflow ``ALREADY_EXISTS``     409     conflict
``StoreUnavailableError``, any other MLflow      503     store_unavailable
error, connection / database errors
=============================================  ======  ===================

Anything else is a bug in nbops and surfaces as tornado's 500 with a logged traceback; it is
never dressed up as one of the statuses above.
"""

from __future__ import annotations

import re

from nbops.exceptions import (
    ConflictError,
    NbopsError,
    NotFoundError,
    StoreUnavailableError,
    UsageError,
)
from nbops.server.contract import ErrorBody

__all__ = ["error_body", "shorten"]

_BAD_REQUEST = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST",
                "INVALID_REQUEST", "MAX_RESULTS_EXCEEDED"}
_CONFLICT = {"RESOURCE_ALREADY_EXISTS", "INVALID_STATE", "ABORTED"}
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


def _store_errors() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [ConnectionError, TimeoutError, OSError]
    try:
        from sqlalchemy.exc import OperationalError

        kinds.append(OperationalError)
    except ImportError:  # pragma: no cover - mlflow depends on sqlalchemy
        pass
    try:
        from requests.exceptions import RequestException

        kinds.append(RequestException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(kinds)


_LONG_QUOTED = re.compile(r"""(['"])([^'"\n]{81,})\1""")
MAX_MESSAGE = 1000


def shorten(message: str) -> str:
    """``message`` with long quoted values (a 20 KB model name) cut to 60 characters, and the
    whole message to MAX_MESSAGE: an error names what was wrong without echoing all of it."""
    def cut(m: re.Match[str]) -> str:
        q, text = m.group(1), m.group(2)
        return f"{q}{text[:60]}…{q} ({len(text)} characters)"

    short = _LONG_QUOTED.sub(cut, message)
    return short if len(short) <= MAX_MESSAGE else short[:MAX_MESSAGE - 1] + "…"


def error_body(exc: BaseException) -> ErrorBody | None:
    """The response for ``exc``, or None when it is a bug (let it be a logged 500)."""
    body = _body(exc)
    if body is None:
        return None
    return ErrorBody(body.status, body.reason, shorten(body.message), body.extra)


def _body(exc: BaseException) -> ErrorBody | None:
    if isinstance(exc, ConflictError):
        extra = {"current": exc.current} if exc.current is not None else {}
        return ErrorBody(409, "conflict", str(exc), extra)
    if isinstance(exc, NotFoundError):
        return ErrorBody(404, "not_found", str(exc))
    if isinstance(exc, UsageError):
        return ErrorBody(400, "validation", str(exc))
    if isinstance(exc, StoreUnavailableError):
        return ErrorBody(503, "store_unavailable", str(exc))
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:  # pragma: no cover
        MlflowException = ()  # type: ignore[assignment]  # noqa: N806
    if MlflowException and isinstance(exc, MlflowException):
        code = str(getattr(exc, "error_code", ""))
        text = exc.message if hasattr(exc, "message") else str(exc)
        if code in _NOT_FOUND:
            return ErrorBody(404, "not_found", text)
        if code in _BAD_REQUEST:
            return ErrorBody(400, "validation", text)
        if code in _CONFLICT:
            return ErrorBody(409, "conflict", text)
        return ErrorBody(503, "store_unavailable", _unavailable(text))
    if isinstance(exc, _store_errors()):
        return ErrorBody(503, "store_unavailable", _unavailable(str(exc)))
    if isinstance(exc, NbopsError):  # ConfigError and other nbops errors: the store is unusable
        return ErrorBody(503, "store_unavailable", str(exc))
    return None


def _unavailable(detail: str) -> str:
    first = detail.strip().splitlines()[0] if detail.strip() else "no detail"
    return (f"The MLflow tracking store cannot be reached: {first[:300]}. Check that the "
            "tracking server is running and MLFLOW_TRACKING_URI / NBOPS_TRACKING_URI point at it.")
