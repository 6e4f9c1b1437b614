"""The commands: exit 2 with the message for a usage/spec error, exit 1 for a failed pipeline."""

from __future__ import annotations

from pathlib import Path

import typer
from pipeline_support import write_spec
from typer.testing import CliRunner

from nbops.cli.pipeline import parse_params, run_command, schedule_app


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("run")(run_command)
    app.add_typer(schedule_app, name="schedule")
    return app


def test_parse_params_reads_yaml_scalars():
    assert parse_params(["n=5", "lr=0.1", "name=a b", "flag=true", "empty="]) == {
        "n": 5, "lr": 0.1, "name": "a b", "flag": True, "empty": ""}


def test_spec_error_exits_2_with_the_location(nbdir):
    spec = write_spec(nbdir, "steps:\n  a:\n    notebook: produce.ipynb\n    retires: 1\n")
    result = CliRunner().invoke(_app(), ["run", str(spec)])
    assert result.exit_code == 2
    assert "pipeline.yaml:4: steps.a.retires: unknown key" in result.output


def test_unknown_param_and_executor_exit_2(nbdir):
    spec = write_spec(nbdir, "params: {n: 1}\nsteps:\n  a: produce.ipynb\n")
    result = CliRunner().invoke(_app(), ["run", str(spec), "-p", "m=2"])
    assert result.exit_code == 2 and "unknown pipeline param 'm'" in result.output


def test_schedule_commands(nbdir):
    app = _app()
    runner = CliRunner()
    added = runner.invoke(app, ["schedule", "add", "nightly", str(nbdir / "produce.ipynb"),
                                "--cron", "0 2 * * *", "-p", "n=3", "--timezone", "UTC"])
    assert added.exit_code == 0, added.output
    assert "scheduled 'nightly'" in added.output
    listed = runner.invoke(app, ["schedule", "list"]).output
    assert "nightly" in listed and "always" in listed
    assert "added" in runner.invoke(app, ["schedule", "history", "nightly"]).output
    bad = runner.invoke(app, ["schedule", "add", "x", str(nbdir / "produce.ipynb"),
                              "--cron", "nope"])
    assert bad.exit_code == 2 and "cron expression 'nope'" in bad.output
    again = runner.invoke(app, ["schedule", "add", "nightly", str(nbdir / "produce.ipynb"),
                                "--cron", "0 3 * * *", "--timezone", "UTC"])
    assert again.exit_code == 0 and "replaced schedule 'nightly'" in again.output
    assert runner.invoke(app, ["schedule", "remove", "nightly"]).exit_code == 0
    assert runner.invoke(app, ["schedule", "remove", "nightly"]).exit_code == 2
    unknown = runner.invoke(app, ["schedule", "history", "nightyl"])
    assert unknown.exit_code == 2 and "no schedule named 'nightyl'" in unknown.output
    assert "no history" not in unknown.output


def test_a_schedule_with_an_unknown_param_is_refused_when_added(nbdir):
    spec = write_spec(nbdir, "params: {n: 1}\nsteps:\n  a: produce.ipynb\n")
    result = CliRunner().invoke(_app(), ["schedule", "add", "p", str(spec), "--cron",
                                         "* * * * *", "-p", "nosuch=1", "--timezone", "UTC"])
    assert result.exit_code == 2
    assert "unknown pipeline param(s) ['nosuch']" in result.output and "Its params: n" in \
        result.output


def test_run_of_a_notebook_says_it_takes_a_pipeline(nbdir):
    result = CliRunner().invoke(_app(), ["run", str(nbdir / "produce.ipynb")])
    assert result.exit_code == 2
    assert "produce.ipynb is a notebook; nbops run takes a pipeline .yaml" in result.output


def test_ctrl_c_exits_130_and_marks_the_running_step_killed(nbdir, project, client):
    import signal
    import subprocess
    import sys
    import time

    spec = write_spec(nbdir, "name: interrupted\nsteps:\n  hang:\n    notebook: hang.ipynb\n"
                             "    parameters: {seconds: 120}\n")
    proc = subprocess.Popen([sys.executable, "-m", "nbops", "run", str(spec)], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        step = None
        deadline = time.monotonic() + 120
        while step is None and time.monotonic() < deadline:
            exp = client.get_experiment_by_name("interrupted")
            runs = client.search_runs([exp.experiment_id], "tags.`nbops.step` = 'hang'") \
                if exp else []
            step = runs[0] if runs else None
            time.sleep(0.5)
        assert step is not None, "the step run was never created"
        time.sleep(2)  # the notebook is running now
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted: the running steps were stopped" in err
    # `nbops run` leaves its last records to a background `nbops sync`: wait for them
    deadline = time.monotonic() + 60
    run = client.get_run(step.info.run_id)
    while run.info.status != "KILLED" and time.monotonic() < deadline:
        time.sleep(0.5)
        run = client.get_run(step.info.run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["nbops.step.status"] == "killed"
    # the notebook as far as it ran: the first cells' outputs, the running cell marked
    import json

    def logged() -> set[str]:
        return {a.path for a in client.list_artifacts(run.info.run_id, "notebook")}

    deadline = time.monotonic() + 60
    while "notebook/hang.ipynb" not in logged() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "notebook/hang.ipynb" in logged()
    local = client.download_artifacts(run.info.run_id, "notebook/hang.ipynb", str(project))
    cells = json.loads(Path(local).read_text(encoding="utf-8"))["cells"]
    waiting = next(c for c in cells if "time.sleep" in "".join(c["source"]))
    assert waiting["metadata"]["papermill"]["status"] == "running"


def test_schedule_add_takes_a_trigger(nbdir):
    app, runner = _app(), CliRunner()
    added = runner.invoke(app, ["schedule", "add", "ct", str(nbdir / "produce.ipynb"), "--cron",
                                "0 * * * *", "--timezone", "UTC", "--trigger", "churn@champion",
                                "--status", "drift", "--status", "warning", "--cooldown", "60"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["schedule", "list"], env={"COLUMNS": "250"}).output
    assert "churn@champion is drift/warning" in listed
    bad = runner.invoke(app, ["schedule", "add", "ct2", str(nbdir / "produce.ipynb"), "--cron",
                              "0 * * * *", "--trigger", "churn", "--timezone", "UTC"])
    assert bad.exit_code == 2 and "monitor must name a model alias as NAME@ALIAS" in bad.output
    lone = runner.invoke(app, ["schedule", "add", "ct3", str(nbdir / "produce.ipynb"), "--cron",
                               "0 * * * *", "--status", "drift"])
    assert lone.exit_code == 2 and "add --trigger NAME@ALIAS" in lone.output
