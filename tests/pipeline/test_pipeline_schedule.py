"""Schedules: the store, missed-run policies with a controllable clock, one lock for two
scheduler processes."""

from __future__ import annotations

import json
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


def _step_run(client, pipeline_run_id):
    parent = client.get_run(pipeline_run_id)
    (step,) = client.search_runs([parent.info.experiment_id],
                                 f"tags.`mlflow.parentRunId` = '{pipeline_run_id}'")
    return step


def test_each_fire_is_a_new_execution_over_its_own_window(nbdir, settings, tracker, client):
    schedule.add("windowed", "0 * * * *", nbdir / "window.ipynb", timezone="UTC",
                 settings=settings, now=T0)
    schedule.add("cached", "0 * * * *", nbdir / "produce.ipynb", {"n": 2}, timezone="UTC",
                 cache=True, settings=settings, now=T0)
    for hour in (11, 12, 13):  # one scheduler check just after each of three fire times
        now = datetime(2026, 1, 5, hour, 0, 20, tzinfo=UTC)
        assert schedule.run_scheduler(clock=lambda now=now: now, stop_after=0,
                                      settings=settings, tracker=tracker) == 2

    finished = [e for e in schedule.history("windowed", settings=settings)
                if e["event"] == "finished"]
    assert [e["steps"] for e in finished] == [{"window": "succeeded"}] * 3  # never "cached"
    windows = [json.loads(_step_run(client, e["run_id"]).data.tags["nbops.output.window"])
               for e in finished]
    assert windows == [[T0.isoformat(), "2026-01-05T11:00:00+00:00"],
                       ["2026-01-05T11:00:00+00:00", "2026-01-05T12:00:00+00:00"],
                       ["2026-01-05T12:00:00+00:00", "2026-01-05T13:00:00+00:00"]]
    tags = client.get_run(finished[2]["run_id"]).data.tags
    assert tags["nbops.schedule.window_start"] == "2026-01-05T12:00:00+00:00"

    # caching is opt-in: the `cached` schedule's later fires come from the step cache
    cached = [e["steps"] for e in schedule.history("cached", settings=settings)
              if e["event"] == "finished"]
    assert cached == [{"produce": "succeeded"}, {"produce": "cached"}, {"produce": "cached"}]


def test_a_bad_time_zone_is_named_as_such(nbdir, settings):
    with pytest.raises(UsageError, match="time zone 'Europe/Pariss' is unknown. Did you mean "
                                         "'Europe/Paris'"):
        schedule.add("tz", "0 * * * *", nbdir / "produce.ipynb", timezone="Europe/Pariss",
                     settings=settings)


FAST_SCHEDULER = """
import sys, time
from datetime import datetime, timedelta
from nbops.pipeline.schedule import run_scheduler
start, speed, stop = datetime.fromisoformat(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
real0 = time.monotonic()
def clock():  # a clock running `speed` times faster than real time
    return start + timedelta(seconds=(time.monotonic() - real0) * speed)
print(run_scheduler(clock=clock, stop_after=stop, tick=0.1))
"""


def test_a_fire_during_a_running_job_is_queued_not_missed(nbdir, settings, project):
    """A real scheduler process on a clock 60x faster than real time: `slow` runs from 10:01
    for several (clock) minutes; `quick`'s 10:02 fire falls inside and runs right after."""
    schedule.add("slow", "1 10 * * *", nbdir / "slow.ipynb", {"seconds": 4}, timezone="UTC",
                 settings=settings, now=T0)
    schedule.add("quick", "2 10 * * *", nbdir / "produce.ipynb", {"n": 2}, timezone="UTC",
                 settings=settings, now=T0)
    start = datetime(2026, 1, 5, 10, 0, 50, tzinfo=UTC).isoformat()
    proc = subprocess.run([sys.executable, "-c", FAST_SCHEDULER, start, "60", "150"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "2"

    slow = [e for e in schedule.history("slow", settings=settings) if e["event"] != "added"]
    quick = [e for e in schedule.history("quick", settings=settings) if e["event"] != "added"]
    assert [e["event"] for e in quick] == ["started", "finished"], quick
    assert quick[1]["status"] == "succeeded"
    assert quick[0]["fire_time"] == "2026-01-05T10:02:00+00:00"
    assert quick[0]["reason"].startswith("queued: due ")
    assert datetime.fromisoformat(quick[0]["started_at"]) > datetime(2026, 1, 5, 10, 3,
                                                                     tzinfo=UTC)
    assert [e["event"] for e in slow] == ["started", "finished"]
    assert slow[0]["reason"] == "on time"
