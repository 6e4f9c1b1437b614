"""Run comparison and `nbops reproduce` on real notebooks run through papermill."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import papermill
import pytest
from nbops_test_support import ROOT

import nbops
from nbops.config import load_settings
from nbops.exceptions import NotFoundError, UsageError
from nbops.tracking.run import track
from nbops.workflows.reproduce import reproduce


def test_compare_keeps_varying_params_and_final_metrics(tracker, settings):
    for lr in (0.1, 0.2):
        with track("sweep", tracker=tracker, params={"lr": lr, "opt": "sgd"}) as run:
            for step in range(3):
                run.log(loss=lr * (3 - step), step=step)
        run.wait(60)
    table = nbops.compare("proj")
    assert list(table["param.lr"]) == ["0.2", "0.1"]  # newest first
    assert "param.opt" not in table.columns  # the same everywhere
    assert sorted(table["metric.loss"]) == pytest.approx([0.1, 0.2])
    with pytest.raises(UsageError, match="Did you mean 'loss'"):
        nbops.compare("proj", metric="los")
    with pytest.raises(NotFoundError, match="Did you mean 'proj'"):
        nbops.compare("prj")


def _run_notebook(project, name, monkeypatch):
    nb = project / name
    shutil.copy(ROOT / "tests" / "notebooks" / name, nb)
    monkeypatch.setenv("NBOPS_NOTEBOOK_PATH", str(nb))
    papermill.execute_notebook(str(nb), str(project / f"out-{name}"), parameters={"seed": 3},
                               cwd=str(project), progress_bar=False, kernel_name="python3")
    from nbops.config import load_settings
    from nbops.tracking.logger import replay

    replay(load_settings(project), timeout=60)
    monkeypatch.delenv("NBOPS_NOTEBOOK_PATH")


def _score_run(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], "attributes.run_name = 'score'",
                              order_by=["attributes.start_time ASC"])
    return runs[0]


def test_deterministic_notebook_reproduces_equal(project, client, monkeypatch):
    _run_notebook(project, "deterministic.ipynb", monkeypatch)
    original = _score_run(client, "deterministic")
    assert original.data.params["seed"] == "3"
    report = reproduce(original.info.run_id)
    assert report.equal, report.to_text()
    assert {m.name for m in report.metrics} == {"score", "stable"}
    assert report.code == [] and report.data == []
    parent = client.get_run(report.reproduce_run)
    assert parent.data.tags["nbops.reproduces"] == original.info.run_id
    assert parent.data.tags["nbops.reproduce.equal"] == "true"


def test_nondeterministic_notebook_names_the_metric(project, client, monkeypatch):
    _run_notebook(project, "nondeterministic.ipynb", monkeypatch)
    original = _score_run(client, "nondeterministic")
    result = subprocess.run([sys.executable, "-m", "nbops", "reproduce", original.info.run_id],
                            cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "≠ score" in result.stdout and "= stable" in result.stdout


def test_reproduce_unknown_run():
    with pytest.raises(NotFoundError, match="nbops runs"):
        reproduce("0" * 32)


PIPELINE_NOTEBOOKS = ROOT / "tests" / "notebooks" / "pipeline"


def _step_run(project, tracker, notebook, parameters):
    from nbops.pipeline.runner import run_pipeline

    shutil.copy(PIPELINE_NOTEBOOKS / notebook, project / notebook)
    spec = project / "pipeline.yaml"
    spec.write_text(f"name: repro\nsteps:\n  step:\n    notebook: {notebook}\n"
                    f"    parameters: {parameters}\n")
    result = run_pipeline(spec, tracker=tracker, quiet=True)
    assert result.ok, result.steps["step"].failure
    return result.steps["step"].run_id


def test_a_step_run_reproduces_the_runs_its_notebook_created(project, tracker, client):
    step_run = _step_run(project, tracker, "tracked.ipynb", "{alpha: 2.0}")
    report = reproduce(step_run)
    assert report.status == "equal" and report.exit_code == 0, report.to_text()
    assert [(m.run, m.name, m.original) for m in report.metrics] == [("fit", "score",
                                                                      ((0, 4.0),))]
    assert report.compared_runs == 1
    assert client.get_run(report.new_run).info.run_name == "fit"
    assert "kernel: python3 (the notebook's kernelspec)" in report.to_text()


def test_a_step_without_tracked_cells_has_nothing_to_compare(project, tracker, client):
    step_run = _step_run(project, tracker, "produce.ipynb", "{n: 2, out_path: n.txt}")
    report = reproduce(step_run)
    assert (report.status, report.exit_code, report.equal) == ("nothing to compare", 3, False)
    assert "metrics: nothing to compare" in report.to_text()
    assert "DIFFERENT" not in report.to_text()
    tags = client.get_run(report.reproduce_run).data.tags
    assert tags["nbops.reproduce.status"] == "nothing to compare"


def test_whole_histories_and_a_history_notebook_without_kernelspec(project, client,
                                                                    monkeypatch, tmp_path):
    """The run is recorded without its notebook file (only the executed history, here
    without a kernelspec); its loss differs at step 0 between executions, its final value
    does not."""
    monkeypatch.setenv("CURVE_COUNTER", str(tmp_path / "count.txt"))
    nb = project / "curve.ipynb"
    shutil.copy(PIPELINE_NOTEBOOKS / "curve.ipynb", nb)
    papermill.execute_notebook(str(nb), str(project / "out.ipynb"), cwd=str(project),
                               progress_bar=False, kernel_name="python3")
    from nbops.tracking.logger import replay

    replay(load_settings(project), timeout=60)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (original,) = client.search_runs(experiments, "attributes.run_name = 'curve'")
    arts = {a.path for a in client.list_artifacts(original.info.run_id, "notebook")}
    assert arts == {"notebook/history.ipynb"}
    history = json.loads(open(client.download_artifacts(
        original.info.run_id, "notebook/history.ipynb", str(tmp_path))).read())
    for key in ("kernelspec", "language_info"):  # as older nbops versions recorded it
        history["metadata"].pop(key, None)
    client.log_text(original.info.run_id, json.dumps(history), "notebook/history.ipynb")

    report = reproduce(original.info.run_id)
    text = report.to_text()
    assert report.status == "different" and report.exit_code == 1, text
    assert "the notebook names no kernel, so the interpreter that recorded the run" in text
    assert "≠ loss: 0 -> 0 (2 points); first differs at step 0: 1 -> 2" in text
    assert (tmp_path / "count.txt").read_text() == "2"  # it really ran again


def test_reproduce_leaves_the_registry_alone_unless_asked(project, tracker, client):
    """The notebook logs a model with alias='prod': re-running it must not register a version
    nor move the alias, unless --register / register=True."""
    from nbops import registry

    step_run = _step_run(project, tracker, "registers.ipynb", "{}")
    assert [str(v.version) for v in client.search_model_versions("name = 'repro-model'")] == ["1"]
    assert [r.to_version for r in registry.history("repro-model", "prod")] == ["1"]

    report = reproduce(step_run)
    assert report.equal and report.registered == [], report.to_text()
    assert "registry: untouched" in report.to_text()
    assert [str(v.version) for v in client.search_model_versions("name = 'repro-model'")] == ["1"]
    assert client.get_registered_model("repro-model").aliases == {"prod": 1}
    assert len(registry.history("repro-model", "prod")) == 1  # no audit record either

    report = reproduce(step_run, register=True)
    assert report.equal, report.to_text()
    assert report.registered == ["repro-model/2"]
    assert "registry: the re-executed notebook registered 1 model version(s): repro-model/2" \
        in report.to_text()
    assert client.get_registered_model("repro-model").aliases == {"prod": 2}
    assert [r.to_version for r in registry.history("repro-model", "prod")] == ["1", "2"]
