"""Run comparison and `nbops reproduce` on real notebooks run through papermill."""

from __future__ import annotations

import shutil
import subprocess
import sys

import papermill
import pytest
from nbops_test_support import ROOT

import nbops
from nbops.exceptions import NotFoundError, UsageError
from nbops.runs.reproduce import reproduce
from nbops.tracking.run import track


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
