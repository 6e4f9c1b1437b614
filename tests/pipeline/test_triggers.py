"""Triggers: a schedule's pipeline runs when the monitoring status of a model version says so,
evaluated by the scheduler with its lock and history (every skipped fire time has its reason),
on a real SQLite store and a real kernel, with the continuous-training guard rails."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from pipeline_support import write_spec

from nbops.exceptions import PipelineError, UsageError
from nbops.pipeline import guard, schedule
from nbops.pipeline.spec import Trigger, load_pipeline

T0 = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)


def retrain_notebook(folder: Path) -> Path:
    """A notebook that declares the trigger's parameters and hands them back as outputs."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("window_start = ''\nwindow_end = ''\n"
                                       "trigger_reason = ''\nmonitor_run = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import nbops.pipeline as nbp\n"
        "nbp.output('got', [window_start, window_end, trigger_reason, monitor_run])")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "retrain.ipynb"
    nbformat.write(nb, path)
    return path


SPEC = """
    name: retrain
    params: {window_start: "", window_end: "", trigger_reason: "", monitor_run: ""}
    trigger:
      monitor: churn@champion
      status: [drift, warning]
      cooldown: 3600
    steps:
      retrain:
        notebook: retrain.ipynb
        parameters:
          window_start: "{{ params.window_start }}"
          window_end: "{{ params.window_end }}"
          trigger_reason: "{{ params.trigger_reason }}"
          monitor_run: "{{ params.monitor_run }}"
        outputs: [got]
"""


def test_the_trigger_is_read_from_the_spec_and_its_mistakes_are_named(project):
    retrain_notebook(project)
    pipeline = load_pipeline(write_spec(project, SPEC))
    assert pipeline.trigger == Trigger("churn@champion", ("drift", "warning"), 3600.0)
    assert pipeline.trigger.model == "churn"
    bad = SPEC.replace("[drift, warning]", "[drfit]")
    with pytest.raises(PipelineError, match=r"pipeline.yaml:3: trigger: status 'drfit' is not "
                                            r"a monitoring status. Did you mean 'drift'"):
        load_pipeline(write_spec(project, bad))
    with pytest.raises(PipelineError, match="monitor must name a model alias as NAME@ALIAS"):
        load_pipeline(write_spec(project, SPEC.replace("churn@champion", "churn")))
    with pytest.raises(UsageError, match="trigger: unknown key 'monitr'. Did you mean 'monitor'"):
        schedule.add("x", "0 * * * *", project / "retrain.ipynb",
                     trigger={"monitr": "churn@champion"})


def register_champion(client) -> str:
    """churn v1 @champion, registered straight in the SQLite registry (no model needed to
    carry a monitoring status)."""
    client.create_registered_model("churn")
    version = client.create_model_version("churn", source="file:///nowhere").version
    client.set_registered_model_alias("churn", "champion", version)
    return str(version)


def events(name, settings):
    return [e for e in schedule.history(name, settings=settings) if e["event"] != "added"]


def test_a_schedule_runs_its_pipeline_only_when_monitoring_says_so(project, settings, tracker,
                                                                   client):
    from nbops.monitoring.status import set_status
    from nbops.store import Store

    retrain_notebook(project)
    spec = write_spec(project, SPEC)
    version = register_champion(client)
    schedule.add("ct", "*/5 * * * *", spec, timezone="UTC", settings=settings, now=T0)

    def tick(minute: int) -> int:
        now = datetime(2026, 1, 5, 10, minute, 10, tzinfo=UTC)
        return schedule.run_scheduler(clock=lambda: now, stop_after=0, settings=settings,
                                      tracker=tracker)

    assert tick(5) == 0  # never monitored: skipped, and why
    (skip,) = events("ct", settings)
    assert skip["event"] == "skipped" and skip["fire_time"] == "2026-01-05T10:05:00+00:00"
    assert skip["reason"].startswith("churn@champion v1: monitoring status unknown (checked "
                                     "never); runs on drift, warning")

    set_status(Store(client.tracking_uri), "churn", version, "drift", report_run_id="report-1")
    before = datetime.now(UTC)
    assert tick(10) == 1
    started, finished = events("ct", settings)[1:]
    assert started["event"] == "started" and finished["status"] == "succeeded"
    assert started["reason"].startswith("churn@champion v1: monitoring status drift (checked 20")
    run = client.get_run(finished["run_id"])
    assert run.data.tags["nbops.trigger.status"] == "drift"
    assert run.data.tags["nbops.trigger.report_run"] == "report-1"
    assert run.data.tags["nbops.schedule.reason"] == started["reason"]
    (step,) = client.search_runs([run.info.experiment_id],
                                 f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
    window_start, window_end, reason, report = json.loads(step.data.tags["nbops.output.got"])
    registered = client.get_model_version("churn", version).creation_timestamp / 1000
    assert datetime.fromisoformat(window_start) == datetime.fromtimestamp(registered, UTC)
    assert before <= datetime.fromisoformat(window_end) <= datetime.now(UTC)  # data until now
    assert (reason, report) == (started["reason"], "report-1")
    (retrain,) = guard.history("churn")
    assert retrain["decision"] == "retrain" and retrain["reason"] == started["reason"]

    assert tick(15) == 0  # the same verdict starts one run only
    assert "report run report-1 already started a run; waiting for a new check" in \
        events("ct", settings)[-1]["reason"]
    set_status(Store(client.tracking_uri), "churn", version, "drift", report_run_id="report-2")
    assert tick(20) == 0  # a new verdict, but the retrain just now holds the cool-down
    assert "the model's last retrain at 20" in events("ct", settings)[-1]["reason"]
    assert "within the cool-down of 1 h 00 min" in events("ct", settings)[-1]["reason"]


def test_a_retrain_in_flight_makes_the_next_one_a_recorded_skip(project, settings, tracker,
                                                                client):
    from nbops.monitoring.status import set_status
    from nbops.store import Store

    notebook = retrain_notebook(project)
    set_status(Store(client.tracking_uri), "churn", register_champion(client), "warning",
               report_run_id="r")
    schedule.add("ct", "*/5 * * * *", notebook, timezone="UTC", settings=settings, now=T0,
                 trigger={"monitor": "churn@champion", "status": "warning", "cooldown": 0})
    now = T0 + timedelta(minutes=5)
    with guard.in_flight("churn", "gate"):
        assert schedule.run_scheduler(clock=lambda: now, stop_after=0, settings=settings,
                                      tracker=tracker) == 0
    (skip,) = events("ct", settings)
    assert skip["event"] == "skipped"
    assert skip["reason"].startswith("A gate of 'churn' is already in flight (pid ")
    assert guard.history("churn") == []
    assert schedule.get("ct", settings=settings).handled is None  # the verdict is still to run


def test_the_nbops_scheduler_process_runs_a_triggered_pipeline(project, settings, client):
    """The real command a user leaves running: `nbops scheduler`, here for one check, with a
    fire time due now and the champion's status `warning`."""
    import subprocess
    import sys

    from nbops.monitoring.status import set_status
    from nbops.store import Store

    retrain_notebook(project)
    spec = write_spec(project, SPEC)
    set_status(Store(client.tracking_uri), "churn", register_champion(client), "warning",
               report_run_id="r-9")
    schedule.add("ct", "* * * * *", spec, settings=settings,
                 now=datetime.now(UTC) - timedelta(seconds=60))  # one fire time is due now
    done = subprocess.run([sys.executable, "-m", "nbops", "scheduler", "--stop-after", "0"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ran 1 job(s)" in done.stderr
    # what it did shows in its terminal, as `nbops schedule history` shows it
    assert "  ct  started " in done.stderr and "  ct  finished  " in done.stderr
    assert "status=succeeded" in done.stderr
    ran = [e for e in events("ct", settings) if e["event"] in ("started", "finished")]
    assert [e["event"] for e in ran] == ["started", "finished"]
    assert ran[0]["trigger_reason"].startswith("churn@champion v1: monitoring status warning")
    assert ran[1]["status"] == "succeeded"
    assert [h["decision"] for h in guard.history("churn")] == ["retrain"]
