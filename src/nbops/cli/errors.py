"""The one way every ``nbops`` command reports an nbops error: ``error: <message>`` on stderr
(the message names what was wrong and what to do), then exit status 2 unless said otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from nbops.exceptions import GuardRailError, NbopsError

__all__ = ["fail", "reported"]


def fail(exc: BaseException, code: int = 2) -> NoReturn:
    """Print ``exc`` as a command's error and exit with ``code``. A guard rail's refusal
    (``GuardRailError``) reads ``refused: ...``: nothing is wrong, a rule said not now."""
    if isinstance(exc, GuardRailError):
        typer.secho(f"refused: {exc}", fg=typer.colors.YELLOW, err=True)
        raise SystemExit(code)
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise SystemExit(code)  # caught by click in a command, ends the process outside one


@contextmanager
def reported(code: int = 2) -> Iterator[None]:
    """An :class:`~nbops.exceptions.NbopsError` raised in the block is reported by :func:`fail`."""
    try:
        yield
    except NbopsError as exc:
        fail(exc, code)
