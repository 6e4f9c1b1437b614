"""Cron schedules for pipelines and notebooks, run by a foreground scheduler (``nbops scheduler``).

    >>> from nbops.pipeline import schedule
    >>> schedule.add("nightly", "0 2 * * *", "pipeline.yaml", {"n_rows": 5000})  # doctest: +SKIP
    >>> schedule.run_scheduler()                                                 # doctest: +SKIP

Schedules live in ``<home>/schedules.json``, their history in ``<home>/schedule-history.jsonl``
(MLflow has no place for either). Cron expressions are parsed by APScheduler's
``CronTrigger`` (5 fields, in the schedule's time zone; default: the machine's).

Each fire is a new execution: the job runs as a pipeline (a notebook TARGET is a one-step
pipeline) with the step cache off, and its MLflow run is tagged ``nbops.schedule=<name>``,
``nbops.schedule.fire_time`` and ``nbops.schedule.window_start``. A target that declares the
params ``fire_time`` / ``window_start`` (pipeline ``params:``, or a notebook's ``parameters``
cell) receives them as ISO 8601 strings: the run covers ``(window_start, fire_time]``, the time
since the previous fire. ``cache=True`` (``--cache``) lets a schedule's steps be served from
the step cache when their inputs did not change.

Several schedulers may run against the same home: a job's fire time is *claimed* under an
exclusive ``fcntl`` lock on ``<home>/schedules.lock`` before it runs, so two schedulers never
run the same job for the same fire time. A scheduler runs due jobs one after the other; a fire
time that passes while it runs another job is *queued*: it runs as soon as that job ends.

A job with a *trigger* (``trigger:`` in its pipeline.yaml, or ``add(..., trigger={...})``)
runs at a fire time only when the monitoring status of the model it names calls for it (see
:mod:`nbops.pipeline.trigger`); otherwise the fire time is recorded as ``skipped`` with the
reason. A triggered run holds the model's continuous-training lock, and receives
``window_start``, ``window_end``, ``trigger_reason`` and ``monitor_run`` when it declares them.

Missed runs (no scheduler was running when a fire time passed, by more than
:data:`MISFIRE_GRACE` seconds): ``skip`` (default) records them in the history and waits for
the next fire time; ``catchup`` runs the job once for all of them.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nbops.config import Settings, load_settings
from nbops.exceptions import NbopsError, NotFoundError, UsageError, closest
from nbops.store import tags as T

__all__ = [
    "MISFIRE_GRACE",
    "MISSED_POLICIES",
    "Schedule",
    "add",
    "get",
    "history",
    "list_schedules",
    "remove",
    "run_scheduler",
]

MISSED_POLICIES = ("skip", "catchup")
#: A fire time passed by more than this many seconds counts as missed.
MISFIRE_GRACE = 60.0
_MAX_FIRES = 10_000  # bound on fire times enumerated after a long downtime


@dataclass
class Schedule:
    """One scheduled job: run ``target`` (pipeline yaml or notebook) on ``cron``."""

    name: str
    cron: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    missed: str = "skip"
    timezone: str | None = None
    created: float = 0.0
    checked_until: float | None = None  # fire times up to here are handled (epoch seconds)
    cache: bool = False  # let the step cache serve unchanged steps (default: always execute)
    last_fire: float | None = None  # the previous handled fire time: the next window's start
    condition: dict[str, Any] | None = None  # a trigger: run only when monitoring says so
    handled: str | None = None  # the monitoring verdict that started the last triggered run

    def trigger(self) -> Any:
        """The APScheduler ``CronTrigger`` of this schedule."""
        return _trigger(self.cron, self.timezone)

    def fire_times(self, after: datetime, until: datetime) -> list[datetime]:
        """Fire times in ``(after, until]``."""
        trigger = self.trigger()
        times: list[datetime] = []
        t = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
        while t is not None and t <= until and len(times) < _MAX_FIRES:
            times.append(t)
            t = trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
        return times

    def next_fire(self, now: datetime | None = None) -> datetime | None:
        now = now or datetime.now(UTC)
        return self.trigger().get_next_fire_time(None, now)


# -- the store ---------------------------------------------------------------------------------


class _Store:
    def __init__(self, settings: Settings | None) -> None:
        self.settings = settings or load_settings()
        home = self.home = self.settings.home
        self.path = home / "schedules.json"
        self.history_path = home / "schedule-history.jsonl"
        self.lock_path = home / "schedules.lock"
        self.echo = False  # also print each history entry (a scheduler in a terminal)
        home.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[dict[str, Schedule]]:
        """Exclusive access: yields the schedules; changes to the dict are saved on exit."""
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                schedules = self.load()
                yield schedules
                self._save(schedules)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self) -> dict[str, Schedule]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise NbopsError(f"{self.path} is not valid JSON ({exc}). Fix or delete it; "
                             "schedules are re-created with `nbops schedule add`.") from None
        return {name: Schedule(**spec) for name, spec in data.items()}

    def _save(self, schedules: Mapping[str, Schedule]) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({n: asdict(s) for n, s in schedules.items()}, indent=2),
                       encoding="utf-8")
        os.replace(tmp, self.path)

    def record(self, entry: dict[str, Any]) -> None:
        at = time.time()
        line = json.dumps({"at": at, "pid": os.getpid(), **entry}, default=str)
        with open(self.history_path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line + "\n")
        if self.echo:
            print(history_line({"at": at, **entry}), file=sys.stderr, flush=True)

    def history(self) -> list[dict[str, Any]]:
        try:
            lines = self.history_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


# -- the API -----------------------------------------------------------------------------------


def add(name: str, cron: str, target: str | Path, params: Mapping[str, Any] | None = None,
        missed: str = "skip", *, timezone: str | None = None, cache: bool = False,
        trigger: Mapping[str, Any] | None = None, settings: Settings | None = None,
        now: datetime | None = None) -> Schedule:
    """Add (or replace) the schedule ``name``: run ``target`` on ``cron``.

    Each fire executes every step; ``cache=True`` lets unchanged steps come from the step
    cache instead. ``trigger`` (``{"monitor": "churn@champion", "status": ["drift"],
    "cooldown": 3600}``) runs the target at a fire time only when monitoring says so; it
    replaces the ``trigger:`` of a pipeline target.

    >>> add("hourly-monitor", "0 * * * *", "monitor.ipynb", missed="catchup")  # doctest: +SKIP
    >>> add("retrain", "*/10 * * * *", "retrain.ipynb",                       # doctest: +SKIP
    ...     trigger={"monitor": "churn@champion", "status": ["drift", "warning"]})

    Raises :class:`UsageError` for a bad cron expression, policy or time zone, and
    :class:`NotFoundError` when ``target`` does not exist.
    """
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise UsageError(f"schedule name {name!r}: use letters, digits, '-', '_' and '.'.")
    if missed not in MISSED_POLICIES:
        raise UsageError(f"missed-run policy {missed!r} is unknown.{closest(missed, MISSED_POLICIES)}"
                         f" Choose from {', '.join(MISSED_POLICIES)}.")
    path = Path(target).resolve()
    if not path.is_file() or path.suffix not in (".yaml", ".yml", ".ipynb"):
        raise NotFoundError(f"schedule target {target} is not an existing pipeline .yaml or "
                            ".ipynb notebook.")
    if timezone is None:
        timezone = _local_timezone()
    _trigger(cron, timezone)  # validates both
    if path.suffix != ".ipynb":  # a spec error or an unknown param fails now, not at fire time
        from nbops.pipeline.spec import load_pipeline

        declared = load_pipeline(path).params
        unknown = sorted(set(params or {}) - set(declared))
        if unknown:
            raise UsageError(f"schedule {name!r}: unknown pipeline param(s) {unknown} for "
                             f"{path.name}.{closest(unknown[0], declared)} Its params: "
                             f"{', '.join(declared) or 'none'} (declare new ones under "
                             "`params:`).")
    condition = None
    if trigger is not None:
        from nbops.pipeline.spec import parse_trigger

        try:
            parsed = parse_trigger(trigger)
        except ValueError as exc:
            raise UsageError(f"schedule {name!r}: trigger: {exc}.") from None
        condition = {"monitor": parsed.monitor, "status": list(parsed.status),
                     "cooldown": parsed.cooldown}
    created = (now or datetime.now(UTC)).timestamp()
    schedule = Schedule(name=name, cron=cron, target=str(path), params=dict(params or {}),
                        missed=missed, timezone=timezone, created=created, cache=cache,
                        condition=condition)
    store = _Store(settings)
    with store.locked() as schedules:
        schedules[name] = schedule
    store.record({"schedule": name, "event": "added", "cron": cron, "target": str(path)})
    return schedule


def get(name: str, *, settings: Settings | None = None) -> Schedule:
    """The schedule ``name``; :class:`NotFoundError` (with the closest names) otherwise."""
    schedules = _Store(settings).load()
    if name not in schedules:
        raise NotFoundError(f"no schedule named {name!r}.{closest(name, schedules)} "
                            "See `nbops schedule list`.")
    return schedules[name]


def list_schedules(*, settings: Settings | None = None) -> list[Schedule]:
    """Every schedule, by name."""
    return sorted(_Store(settings).load().values(), key=lambda s: s.name)


def remove(name: str, *, settings: Settings | None = None) -> None:
    """Remove the schedule ``name`` (its history stays)."""
    store = _Store(settings)
    with store.locked() as schedules:
        if name not in schedules:
            raise NotFoundError(f"no schedule named {name!r}.{closest(name, schedules)} "
                                "See `nbops schedule list`.")
        del schedules[name]
    store.record({"schedule": name, "event": "removed"})


def history_line(entry: Mapping[str, Any]) -> str:
    """One history entry as ``nbops schedule history`` and a scheduler's terminal show it."""
    when = datetime.fromtimestamp(entry["at"]).isoformat(timespec="seconds")
    rest = {k: v for k, v in entry.items() if k not in ("at", "schedule", "event", "pid")}
    return (f"{when}  {entry.get('schedule', '')}  {entry['event']:<9} "
            + "  ".join(f"{k}={v}" for k, v in rest.items()))


def history(name: str, *, settings: Settings | None = None,
            limit: int | None = None) -> list[dict[str, Any]]:
    """History entries of ``name``, oldest first: added, started, finished, failed, missed,
    skipped (a trigger's condition did not hold; ``reason`` says why)."""
    store = _Store(settings)
    entries = [e for e in store.history() if e.get("schedule") == name]
    if not entries:
        known = store.load()
        if name not in known:
            raise NotFoundError(f"no schedule named {name!r}.{closest(name, known)} See "
                                "`nbops schedule list`.")
    return entries[-limit:] if limit else entries


def run_scheduler(
    clock: Callable[[], datetime] | None = None,
    stop_after: float | None = None,
    *,
    tick: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    settings: Settings | None = None,
    tracker: Any = None,
    quiet: bool = True,
) -> int:
    """Run due jobs in the foreground until ``stop_after`` seconds (of ``clock``) have passed.

    ``clock`` returns the current time (an aware datetime; default: now, UTC) and ``sleep``
    waits between checks: tests pass a fake clock. ``stop_after=0`` checks once. Returns the
    number of jobs run (a fire time a trigger skipped does not count). Fire times that pass while a job runs are queued, not missed: only
    fire times from before this scheduler started can be missed.
    """
    clock = clock or (lambda: datetime.now(UTC))
    store = _Store(settings)
    store.echo = not quiet  # what it runs, skips and fails shows in its terminal
    started = clock()
    ran = 0
    while True:
        fires = _claim_due(store, clock(), alive_since=started)
        ran += sum(_run_job(store, fire, tracker, quiet, clock) for fire in fires)
        if fires:
            continue  # fire times that passed while these ran are due now: run them first
        if stop_after is not None and (clock() - started).total_seconds() >= stop_after:
            return ran
        sleep(tick)


@dataclass(frozen=True)
class _Fire:
    """One claimed execution of a job: the window ``(window_start, fire_time]`` it covers."""

    job: Schedule
    fire_time: datetime
    window_start: datetime
    reason: str


def _claim_due(store: _Store, now: datetime, alive_since: datetime) -> list[_Fire]:
    """Under the lock: find due fire times, mark them handled, record missed ones.

    A fire time is *due* when it passed while this scheduler was running (late by any amount:
    the scheduler was busy with another job) or within :data:`MISFIRE_GRACE` before it started;
    older ones passed while no scheduler ran and are *missed*.
    """
    due: list[_Fire] = []
    live_from = alive_since - timedelta(seconds=MISFIRE_GRACE)
    with store.locked() as schedules:
        for job in schedules.values():
            since = datetime.fromtimestamp(job.checked_until or job.created, UTC)
            fires = job.fire_times(since, now)
            if not fires:
                continue
            job.checked_until = now.timestamp()
            window = datetime.fromtimestamp(job.last_fire or job.created, UTC)
            missed = [f for f in fires if f < live_from]
            if missed:
                store.record({"schedule": job.name, "event": "missed", "count": len(missed),
                              "first": missed[0].isoformat(), "last": missed[-1].isoformat(),
                              "policy": job.missed})
                if job.missed == "catchup":
                    due.append(_Fire(job, missed[-1], window,
                                     f"catch-up for {len(missed)} missed run(s)"))
                window = missed[-1]
            for fire in fires[len(missed):]:
                late = (now - fire).total_seconds()
                reason = "on time" if late <= MISFIRE_GRACE else \
                    f"queued: due {late:.0f} s ago, while the scheduler ran another job"
                due.append(_Fire(job, fire, window, reason))
                window = fire
            job.last_fire = window.timestamp()
    return sorted(due, key=lambda f: f.fire_time)


def _run_job(store: _Store, fire: _Fire, tracker: Any, quiet: bool,
             clock: Callable[[], datetime]) -> bool:
    """Run one claimed fire time (unless its trigger says no); True when the job ran."""
    from nbops.pipeline.runner import run_pipeline
    from nbops.pipeline.spec import load_pipeline, notebook_pipeline, parse_trigger

    job = fire.job
    when = {"fire_time": fire.fire_time.isoformat(), "window_start": fire.window_start.isoformat()}
    tags = {T.SCHEDULE: job.name, T.SCHEDULE_FIRE_TIME: when["fire_time"],
            T.SCHEDULE_WINDOW_START: when["window_start"],
            T.SCHEDULE_REASON: fire.reason}
    try:
        pipeline = None if job.target.endswith(".ipynb") else load_pipeline(job.target)
        declared = _notebook_params(job.target) if pipeline is None else list(pipeline.params)
        trigger = parse_trigger(job.condition) if job.condition else \
            pipeline.trigger if pipeline is not None else None
        verdict = None
        if trigger is not None:
            from nbops.pipeline.trigger import evaluate

            verdict = evaluate(trigger, handled=job.handled,
                               tracking_uri=store.settings.tracking_uri, home=store.home)
            if not verdict.run:
                store.record({"schedule": job.name, "event": "skipped",
                              "fire_time": when["fire_time"], "reason": verdict.reason})
                return False
            when.update(verdict.params)
            tags.update({**verdict.tags, T.SCHEDULE_REASON: verdict.reason})
        params = {**{k: v for k, v in when.items() if k in declared}, **job.params}
        target: Any = pipeline or notebook_pipeline(job.target, params)
        with _held(store, job, verdict):
            store.record({"schedule": job.name, "event": "started", **when,
                          "reason": verdict.reason if verdict else fire.reason,
                          "started_at": clock().isoformat()})
            result = run_pipeline(target, params=params if pipeline else {},
                                  force=not job.cache, tags=tags, tracker=tracker, quiet=quiet)
    except NbopsError as exc:
        from nbops.exceptions import GuardRailError

        event = "skipped" if isinstance(exc, GuardRailError) else "failed"
        store.record({"schedule": job.name, "event": event, "fire_time": when["fire_time"],
                      ("reason" if event == "skipped" else "error"): str(exc)})
        return event == "failed"
    store.record({"schedule": job.name, "event": "finished", "fire_time": when["fire_time"],
                  "status": result.status, "run_id": result.run_id,
                  "steps": {n: r.status for n, r in result.steps.items()},
                  "duration": round(result.duration, 3)})
    return True


@contextmanager
def _held(store: _Store, job: Schedule, verdict: Any) -> Iterator[None]:
    """For a triggered run: the model's retrain lock, and the verdict marked as handled (so
    the same monitoring result starts one run only, whatever the run's outcome)."""
    if verdict is None:
        yield
        return
    from nbops.pipeline.trigger import retraining

    with retraining(verdict, home=store.home):
        with store.locked() as schedules:
            if job.name in schedules:
                schedules[job.name].handled = verdict.verdict
        yield


def _notebook_params(notebook: str) -> list[str]:
    from nbops.pipeline.spec import declared_parameters

    return declared_parameters(notebook)


def _trigger(cron: str, timezone: str | None) -> Any:
    try:
        from apscheduler.triggers.cron import CronTrigger
    except ImportError:
        from nbops.exceptions import DependencyMissingError

        raise DependencyMissingError("APScheduler", "Schedules", "pipeline") from None
    if timezone is not None:
        _check_timezone(timezone)
    try:
        return CronTrigger.from_crontab(cron, timezone=timezone)
    except (ValueError, LookupError) as exc:
        raise UsageError(f"cron expression {cron!r} (time zone {timezone}) is not valid: {exc}. "
                         "Use 5 fields: minute hour day month weekday, e.g. '0 2 * * *'.") from None


def _check_timezone(name: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"time zone {name!r} is unknown.{closest(name, zoneinfo.available_timezones())} "
            "Use an IANA time zone name such as 'UTC', 'Europe/Paris' or 'America/New_York'."
        ) from None


def _local_timezone() -> str:
    try:
        from tzlocal import get_localzone_name

        return get_localzone_name() or "UTC"
    except Exception:  # noqa: BLE001 - no tz database: cron times are then UTC
        return "UTC"
