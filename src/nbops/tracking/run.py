"""Runs: ``with nbops.track(...) as run:`` and the process-wide tracker behind it.

A :class:`Run` (:mod:`nbops.tracking.handle`) validates what the user logs and puts it on the
durable logger's queue; it never waits for MLflow. Ending a run writes its events to the spool
(a few ms at most) and returns; the worker thread ships them. ``run.wait()`` or
``nbops.flush()`` wait for MLflow when a script needs the data there before going on.

Run lifecycle and statuses::

    start ──► RUNNING ──► FINISHED   the block/cell completed
                     ├──► FAILED     an exception escaped (type, message, traceback recorded;
                     │               the exception re-raises unchanged)
                     └──► KILLED     KeyboardInterrupt (interrupting the kernel)
    a run whose process died is ended FAILED by the next process that opens the same home.

The pieces: :mod:`~nbops.tracking.handle` (the run), :mod:`~nbops.tracking.tracker` (the
tracker), :mod:`~nbops.tracking.values` (what a run accepts), :mod:`~nbops.tracking.capture_jobs`
(what it records on its own), :mod:`~nbops.tracking.identity` (user, version, experiment).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from nbops.exceptions import NoActiveRunError
from nbops.tracking.handle import Run, RunSummary
from nbops.tracking.identity import current_user
from nbops.tracking.tracker import Tracker

__all__ = ["Run", "RunSummary", "Tracker", "active_run", "current_user", "default_tracker",
           "track"]

# -- process state: the default tracker --------------------------------------------------------

_default: Tracker | None = None
_default_lock = threading.Lock()


def default_tracker() -> Tracker:
    """The process-wide tracker, created on first use from the settings in force."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Tracker()
    return _default


@contextmanager
def track(
    name: str | None = None,
    *,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    no_capture: frozenset[str] | set[str] = frozenset(),
    tracker: Tracker | None = None,
) -> Iterator[Run]:
    """Track a block of code as one MLflow run.

    >>> import nbops
    >>> with nbops.track("baseline", params={"lr": 0.1}) as run:   # doctest: +SKIP
    ...     for epoch in range(3):
    ...         nbops.log(loss=1 / (epoch + 1))

    The run ends FINISHED, FAILED (the exception re-raises unchanged) or KILLED
    (KeyboardInterrupt). Inside another ``track`` block, the run is its child.
    """
    __tracebackhide__ = True
    tracker = tracker or default_tracker()
    run = tracker.start_run(name, experiment=experiment, tags=tags, params=params,
                            no_capture=no_capture)
    try:
        yield run
    except KeyboardInterrupt as exc:
        run.end("KILLED", error=exc)
        raise
    except BaseException as exc:
        run.end("FAILED", error=exc)
        raise
    else:
        run.end("FINISHED")


def active_run() -> Run:
    """The innermost active run; raises :class:`NoActiveRunError` when there is none."""
    run = Tracker.active()
    if run is None:
        raise NoActiveRunError()
    return run
