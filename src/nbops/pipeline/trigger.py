"""Retrain when monitoring says so: decide whether a triggered pipeline runs now, and hold the
model's continuous-training lock while it runs.

The scheduler (``nbops scheduler``) asks at every fire time of a schedule whose pipeline declares
``trigger:`` (or whose schedule was added with ``trigger=``)::

    resolve NAME@ALIAS ─► its monitoring status (tag nbops.monitor.status, set by monitoring checks)
      ─► not one of the trigger's statuses?             skip: "status is ok, waiting for drift"
      ─► this verdict (its report run) already ran once? skip: "already handled"
      ─► a retrain or promotion within the cool-down?   skip: "cool-down leaves 42 min"
      ─► run, holding guard.in_flight(NAME, "retrain"): a retrain or gate in flight is a skip

A run receives the data window (``window_start``: the monitored version's registration,
``window_end``: the time of the decision), ``trigger_reason`` and ``monitor_run`` (the monitoring report
run) as parameters, when its pipeline declares them. Every started retrain is one ``retrain``
line in the continuous-training history (``nbops ct status NAME``), which starts the cool-down.

Example:
    >>> from nbops.pipeline.spec import parse_trigger
    >>> verdict = evaluate(parse_trigger({"monitor": "churn@champion"}))   # doctest: +SKIP
    >>> verdict.run, verdict.reason                                          # doctest: +SKIP
    (True, 'churn@champion v3: monitoring status drift (checked 2026-12-01T10:00:00+00:00, ...)')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbops.pipeline import guard
from nbops.store import tags as T

__all__ = ["Verdict", "evaluate", "retraining"]


@dataclass(frozen=True)
class Verdict:
    """Whether a triggered run starts now (``run``), and why (``reason``, kept in the history).

    When it runs, ``params`` are the values offered to the pipeline (see the module docstring)
    and ``tags`` go on its MLflow run; ``verdict`` identifies the monitoring result that
    started it (its report run), so that the same result starts one run only."""

    run: bool
    reason: str
    model: str = ""
    verdict: str = ""
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def evaluate(trigger: Any, *, handled: str | None = None, tracking_uri: str | None = None,
             home: Path | None = None, clock: Callable[[], float] = time.time) -> Verdict:
    """Decide whether the pipeline of ``trigger`` (a :class:`~nbops.pipeline.spec.Trigger`)
    runs now. ``handled``: the verdict of the previous triggered run, which does not start
    another. A store or registry error is a skip whose reason names it."""
    from nbops.config import load_settings
    from nbops.exceptions import NbopsError
    from nbops.monitoring.status import TAG_CHECKED_AT, TAG_REPORT_RUN, TAG_STATUS
    from nbops.registry.resolve import resolve_version
    from nbops.store import open_store

    try:
        store = open_store(load_settings(), tracking_uri=tracking_uri)
        mv = resolve_version(trigger.monitor, store=store)
    except NbopsError as exc:
        return Verdict(False, f"cannot read the monitoring status of {trigger.monitor}: {exc}",
                       trigger.model)
    status = mv.tags.get(TAG_STATUS, "unknown")
    report = mv.tags.get(TAG_REPORT_RUN, "")
    checked = mv.tags.get(TAG_CHECKED_AT, "never")
    wanted = ", ".join(trigger.status)
    where = f"{trigger.monitor} v{mv.version}"
    if status not in trigger.status:
        return Verdict(False, f"{where}: monitoring status {status} (checked {checked}); runs "
                              f"on {wanted}", trigger.model)
    verdict = f"{mv.version}:{report or checked}"
    if verdict == handled:
        return Verdict(False, f"{where}: monitoring status {status} from report run "
                              f"{report or '?'} already started a run; waiting for a new "
                              "check", trigger.model)
    waiting = _cooling_down(trigger, home, clock)
    if waiting:
        return Verdict(False, f"{where}: monitoring status {status}, but {waiting}",
                       trigger.model)
    start = datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC)
    reason = (f"{where}: monitoring status {status} (checked {checked}, report run "
              f"{report or '?'})")
    end = datetime.fromtimestamp(clock(), UTC)
    params = {"window_start": start.isoformat(), "window_end": end.isoformat(),
              "trigger_reason": reason, "monitor_run": report}
    tags = {T.TRIGGER_MONITOR: trigger.monitor, T.TRIGGER_VERSION: str(mv.version),
            T.TRIGGER_STATUS: status, T.TRIGGER_REPORT_RUN: report}
    return Verdict(True, reason, trigger.model, verdict, params, tags)


def _cooling_down(trigger: Any, home: Path | None, clock: Callable[[], float]) -> str:
    """Why the cool-down holds (the last retrain or promotion was too recent), or ''."""
    now = clock()
    recent = [r for r in guard.history(trigger.model, home=home)
              if r.get("decision") in ("retrain", "promoted")]
    if not recent or now - recent[-1]["at"] >= trigger.cooldown:
        return ""
    last = recent[-1]
    left = trigger.cooldown - (now - last["at"])
    return (f"the model's last {last['decision']} at {last['time']} is within the cool-down "
            f"of {guard.duration(trigger.cooldown)} ({guard.duration(left)} left)")


@contextmanager
def retraining(verdict: Verdict, *, home: Path | None = None,
               clock: Callable[[], float] = time.time) -> Iterator[None]:
    """Hold the model's lock for a triggered run and record it in the history as ``retrain``;
    :class:`~nbops.exceptions.GuardRailError` at once when a retrain or gate is in flight."""
    with guard.in_flight(verdict.model, "retrain", home=home, clock=clock):
        guard.record({"model": verdict.model, "decision": "retrain", "reason": verdict.reason},
                     home=home, clock=clock)
        yield
