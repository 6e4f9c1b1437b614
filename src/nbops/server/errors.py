"""One mapping from errors to HTTP statuses for every ``/nbops/api/`` handler, by type.

=============================================  ======  ===================
raised                                         status  ``reason``
=============================================  ======  ===================
``UsageError``, ``PermanentStoreError``         400     validation
``PermissionDeniedError``                       403     forbidden
``NotFoundError``                               404     not_found
``ConflictError``                               409     conflict
``StoreUnavailableError``, other nbops errors   503     store_unavailable
=============================================  ======  ===================

Anything MLflow, HTTP or SQL raised is first turned into one of these by the store's rule
(``nbops.store.errors``). Anything else is a bug in nbops and surfaces as tornado's 500 with a
logged traceback; it is never dressed up as one of the statuses above.
"""

from __future__ import annotations

import re

from nbops.exceptions import (
    ConflictError,
    NbopsError,
    NotFoundError,
    PermanentStoreError,
    PermissionDeniedError,
    UsageError,
)
from nbops.server.contract import ErrorBody
from nbops.store.errors import translate

__all__ = ["error_body", "shorten"]

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
    exc = translate(exc, "answering the request", "the MLflow tracking store")
    if isinstance(exc, ConflictError):
        extra = {"current": exc.current} if exc.current is not None else {}
        return ErrorBody(409, "conflict", str(exc), extra)
    if isinstance(exc, NotFoundError):
        return ErrorBody(404, "not_found", str(exc))
    if isinstance(exc, UsageError | PermanentStoreError):
        return ErrorBody(400, "validation", str(exc))
    if isinstance(exc, PermissionDeniedError):
        return ErrorBody(403, "forbidden", str(exc))
    if isinstance(exc, NbopsError):  # the store is down or unusable
        return ErrorBody(503, "store_unavailable", str(exc))
    return None
