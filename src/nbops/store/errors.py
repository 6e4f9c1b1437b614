"""One rule for what MLflow, HTTP and SQL raise: each failure becomes one nbops error.

=====================================================  ==========================  ==========
what the store said                                    nbops error                 retry?
=====================================================  ==========================  ==========
no answer: refused, timed out, DNS, 5xx, 408, 429,     ``StoreUnavailableError``   yes
database locked or gone (SQLAlchemy ``OperationalError``)
``RESOURCE_DOES_NOT_EXIST``, 404                       ``NotFoundError``           no
``RESOURCE_ALREADY_EXISTS``, ``ABORTED``, 409,         ``ConflictError``           no
SQL integrity error
``UNAUTHENTICATED`` / ``PERMISSION_DENIED``, 401, 403  ``PermissionDeniedError``   no
any other 4xx (``INVALID_PARAMETER_VALUE``, ...)       ``PermanentStoreError``     no
=====================================================  ==========================  ==========

Anything else (a ``TypeError`` in nbops, say) is a bug and is not translated. Every message
names the store, what nbops was doing, what the store said, and what to do.
"""

from __future__ import annotations

from nbops.exceptions import (
    ConflictError,
    NbopsError,
    NotFoundError,
    PermanentStoreError,
    PermissionDeniedError,
    StoreUnavailableError,
)

__all__ = ["classify", "is_retryable", "translate"]

_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "ENDPOINT_NOT_FOUND"}
_CONFLICT = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS", "ABORTED", "INVALID_STATE"}
_PERMISSION = {"UNAUTHENTICATED", "PERMISSION_DENIED", "UNAUTHORIZED"}
_UNAVAILABLE = {"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "INTERNAL_ERROR",
                "SERVICE_UNDER_MAINTENANCE", "DEADLINE_EXCEEDED"}
# Libraries whose own exceptions mean "the store did not answer".
_TRANSPORT_MODULES = ("requests", "urllib3", "http", "socket", "ssl")


def classify(exc: BaseException) -> str | None:
    """``"unavailable"``, ``"not_found"``, ``"conflict"``, ``"permission"`` or ``"bad_request"``
    for a failure of the store; None for anything else (a bug, not the store)."""
    if isinstance(exc, StoreUnavailableError):
        return "unavailable"
    if isinstance(exc, NotFoundError):
        return "not_found"
    if isinstance(exc, ConflictError):
        return "conflict"
    if isinstance(exc, PermissionDeniedError):
        return "permission"
    if isinstance(exc, PermanentStoreError):
        return "bad_request"
    code, status = _mlflow_verdict(exc)
    if code is not None:
        if code in _NOT_FOUND or status == 404:
            return "not_found"
        if code in _CONFLICT or status == 409:
            return "conflict"
        if code in _PERMISSION or status in (401, 403):
            return "permission"
        if code in _UNAVAILABLE or status >= 500 or status in (408, 429):
            return "unavailable"
        if _says_unavailable(str(getattr(exc, "message", exc))):
            return "unavailable"
        return "bad_request" if 400 <= status < 500 else "unavailable"
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return "unavailable"
    module = type(exc).__module__.split(".")[0]
    name = type(exc).__name__
    if module in ("sqlalchemy", "sqlite3", "psycopg2", "psycopg", "pymysql"):
        return "conflict" if name == "IntegrityError" else "unavailable"
    if module in _TRANSPORT_MODULES:
        return "unavailable"
    return None


def is_retryable(exc: BaseException) -> bool:
    """True when trying the same call later may succeed (the store did not answer)."""
    return classify(exc) == "unavailable"


def translate(exc: BaseException, what: str, uri: str) -> BaseException:
    """The nbops error for ``exc``, raised while doing ``what`` against the store at ``uri``;
    ``exc`` itself when it is already an nbops error or is not a store failure."""
    if isinstance(exc, NbopsError):
        return exc
    kind = classify(exc)
    if kind is None:
        return exc
    detail = _detail(exc)
    if kind == "unavailable":
        return StoreUnavailableError(
            f"The tracking store {uri} is unreachable or failing (while {what}): {detail}. "
            "Check that it is up (`nbops status`), then run the same call again."
        )
    if kind == "not_found":
        return NotFoundError(f"Not found while {what} in {uri}: {detail}.")
    if kind == "conflict":
        return ConflictError(f"Conflict while {what} in {uri}: {detail}. Read the current "
                             "state again, then retry on top of it.")
    if kind == "permission":
        return PermissionDeniedError(
            f"The store {uri} refused {what}: {detail}. Set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) for a user allowed to do this."
        )
    return PermanentStoreError(f"The store {uri} refused {what}: {detail}. Fix the value it "
                               "names; retrying the same request cannot succeed.")


def _mlflow_verdict(exc: BaseException) -> tuple[str | None, int]:
    """(MLflow error code, HTTP status) of an ``MlflowException``; (None, 0) otherwise."""
    status_of = getattr(exc, "get_http_status_code", None)
    code = getattr(exc, "error_code", None)
    if code is None or not callable(status_of):
        return None, 0
    try:
        status = int(status_of())
    except (TypeError, ValueError):
        status = 500
    return str(code), status


def _says_unavailable(text: str) -> bool:
    """MLflow wraps transport and database failures in a generic exception; its text says so."""
    return (("API request to" in text and "failed with exception" in text)
            or any(s in text for s in ("database is locked", "unable to open database",
                                       "OperationalError", "Max retries exceeded",
                                       "Connection refused", "timed out")))


def _detail(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:300].rstrip(".")
