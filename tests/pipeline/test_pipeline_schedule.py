"""Schedules: the store, missed-run policies with a controllable clock, one lock for two
scheduler processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from nbops.exceptions import NotFoundError, UsageError
from nbops.pipeline import schedule

T0 = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)


def test_add_list_remove_history(nbdir, settings):
    job = schedule.add("hourly", "0 * * * *", nbdir / "produce.ipynb", {"n": 2},
                       timezone="UTC", settings=settings, now=T0)
    assert job.next_fire(T0) == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    assert [s.name for s in schedule.list_schedules(settings=settings)] == ["hourly"]
    assert (settings.home / "schedules.json").is_file()
    with pytest.raises(UsageError, match="cron expression '61 \\* \\* \\* \\*'"):
        schedule.add("bad", "61 * * * *", nbdir / "produce.ipynb", settings=settings)
    with pytest.raises(UsageError, match="Did you mean 'catchup'"):
        schedule.add("bad", "0 * * * *", nbdir / "produce.ipynb", missed="catch-up",
                     settings=settings)
    with pytest.raises(NotFoundError, match="no schedule named 'hourli'.*'hourly'"):
        schedule.remove("hourli", settings=settings)
    schedule.remove("hourly", settings=settings)
    assert schedule.list_schedules(settings=settings) == []
    assert [e["event"] for e in schedule.history("hourly", settings=settings)] == [
        "added", "removed"]


def test_missed_runs_skip_or_catch_up_once_with_a_controllable_clock(nbdir, settings, tracker,
                                                                    client):
    for name, policy in (("skipper", "skip"), ("catcher", "catchup")):
        schedule.add(name, "0 * * * *", nbdir / "produce.ipynb", {"n": 2}, policy,
                     timezone="UTC", settings=settings, now=T0)
    now = T0 + timedelta(hours=5, minutes=30)  # down for 5 fire times, the last 30 min ago
    ran = schedule.run_scheduler(clock=lambda: now, stop_after=0, settings=settings,
                                 tracker=tracker)
    assert ran == 1

    skipped = schedule.history("skipper", settings=settings)
    assert [e["event"] for e in skipped] == ["added", "missed"]
    assert skipped[1]["count"] == 5 and skipped[1]["policy"] == "skip"
    caught = schedule.history("catcher", settings=settings)
    assert [e["event"] for e in caught] == ["added", "missed", "started", "finished"]
    assert caught[2]["reason"] == "catch-up for 5 missed run(s)"
    assert caught[3]["status"] == "succeeded"
    run = client.get_run(caught[3]["run_id"])
    assert run.data.tags["nbops.schedule"] == "catcher"

    # a tick five minutes later finds nothing new to run or to report
    later = now + timedelta(minutes=5)
    assert schedule.run_scheduler(clock=lambda: later, stop_after=0, settings=settings,
                                  tracker=tracker) == 0
    assert len(schedule.history("skipper", settings=settings)) == 2


SCHEDULER = """
import sys
from datetime import datetime, timezone
from nbops.pipeline.schedule import run_scheduler
now = datetime.fromisoformat(sys.argv[1])
print(run_scheduler(clock=lambda: now, stop_after=0))
"""


def test_two_scheduler_processes_run_a_job_once(nbdir, settings, project):
    schedule.add("once", "*/5 * * * *", nbdir / "produce.ipynb", {"n": 2}, timezone="UTC",
                 settings=settings, now=T0)
    fire = datetime(2026, 1, 5, 10, 5, 10, tzinfo=UTC).isoformat()
    procs = [subprocess.Popen([sys.executable, "-c", SCHEDULER, fire], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert sorted(o[0].strip().splitlines()[-1] for o in outs) == ["0", "1"], outs
    events = [e["event"] for e in schedule.history("once", settings=settings)]
    assert events == ["added", "started", "finished"]
