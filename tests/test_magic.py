"""%%track in a real IPython shell against a real SQLite MLflow store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from nbops.magics import NbopsMagics, default_run_name
from nbops.tracking.run import Tracker


@pytest.fixture()
def ip(tracker: Tracker):
    start_ipython()  # the process-wide test shell (a no-op after the first call)
    shell = InteractiveShell.instance()
    magics = NbopsMagics(shell, tracker)
    shell.register_magics(magics)
    shell.events.register("pre_run_cell", magics.pre_run_cell)
    yield shell
    shell.events.unregister("pre_run_cell", magics.pre_run_cell)


def _runs(client, name: str | None = None):
    exps = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(exps, max_results=1000)
    return [r for r in runs if name is None or r.info.run_name == name]


def _artifacts(client, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for a in client.list_artifacts(run_id, path):
        out |= _artifacts(client, run_id, a.path) if a.is_dir else {a.path}
    return out


def _git_repo(root: Path) -> None:
    def git(*a: str) -> None:
        subprocess.run(["git", *a], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", "pyproject.toml")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    (root / "pyproject.toml").write_text("[project]\nname = 'demo2'\n")  # a dirty change


def test_roundtrip_params_metrics_code_git_env(ip, tracker, client, project, monkeypatch,
                                               request):
    sys.modules.pop("helpers", None)
    request.addfinalizer(lambda: sys.modules.pop("helpers", None))  # this test's own module
    monkeypatch.setattr(sys, "path", list(sys.path))
    # the finder cached for '.' still looks in the folder of the test that ran before
    monkeypatch.delitem(sys.path_importer_cache, ".", raising=False)
    _git_repo(project)
    (project / "helpers.py").write_text("SCALE = 2\n")  # an untracked local module
    ip.run_cell("import sys; sys.path.insert(0, '.'); import helpers\nhidden = 32")
    cell = (
        "%%track --tag team=vision --param note=x --metrics final\n"
        "# Fit the baseline\n"
        "lr = 0.01\nlayers = [64, 32]\nmodel = object()\nimport nbops\n"
        "for i in range(5):\n    nbops.log(loss=1.0 / (i + 1), acc=i / 10)\n"
        "final = 0.75 * helpers.SCALE + hidden\n"
    )
    result = ip.run_cell(cell)
    assert result.success
    assert tracker.logger.flush(60) == 0

    (run,) = _runs(client, "Fit the baseline")
    data = run.data
    assert data.params == {"lr": "0.01", "layers": "[64, 32]", "note": "x", "hidden": "32"}
    assert data.metrics["final"] == pytest.approx(33.5)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [round(m.value, 3) for m in history] == [1.0, 0.5, 0.333, 0.25, 0.2]
    tags = data.tags
    assert tags["team"] == "vision"
    assert tags["mlflow.source.git.commit"] == subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    assert tags["nbops.git.dirty"] == "true"
    assert len(tags["nbops.cell_hash"]) == 16
    assert tags["nbops.env.python"].count(".") == 2
    from nbops.tracking.environment import installed_packages

    assert tags["nbops.env.digest"] == installed_packages()[1]  # the digest of the package list
    assert len(tags["nbops.env.digest"]) == 64
    parent_id = tags["mlflow.parentRunId"]
    parent = client.get_run(parent_id)
    assert parent.data.tags["nbops.session"] == "true"

    arts = _artifacts(client, run.info.run_id)
    assert {"code/cell.py", "git/diff.patch", "git/imported_modules.patch",
            "environment/requirements.txt", "environment/env.txt",
            "notebook/history.ipynb"} <= arts
    local = Path(client.download_artifacts(run.info.run_id, "git/imported_modules.patch"))
    assert "SCALE = 2" in local.read_text()
    reqs = Path(client.download_artifacts(run.info.run_id, "environment/requirements.txt"))
    assert "mlflow==" in reqs.read_text()
    diff = Path(client.download_artifacts(run.info.run_id, "git/diff.patch")).read_text()
    assert "demo2" in diff


def test_each_execution_is_a_new_run_under_one_session(ip, tracker, client):
    for _ in range(3):
        assert ip.run_cell("%%track again\nx = 1").success
    tracker.logger.flush(60)
    runs = _runs(client, "again")
    assert len(runs) == 3
    assert len({r.data.tags["mlflow.parentRunId"] for r in runs}) == 1


def test_failed_cell_records_error_and_reraises_unchanged(ip, tracker, client):
    result = ip.run_cell("%%track boom\nclass MyError(Exception): pass\nraise MyError('bad data')")
    assert type(result.error_in_exec).__name__ == "MyError"
    assert str(result.error_in_exec) == "bad data"
    tracker.logger.flush(60)
    (run,) = _runs(client, "boom")
    assert run.info.status == "FAILED"
    assert run.data.tags["nbops.error.type"] == "MyError"
    assert run.data.tags["nbops.error.message"] == "bad data"
    tb = Path(client.download_artifacts(run.info.run_id, "error/traceback.txt")).read_text()
    assert "MyError: bad data" in tb


def test_keyboard_interrupt_marks_killed(ip, tracker, client):
    result = ip.run_cell("%%track stop\nraise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    tracker.logger.flush(60)
    (run,) = _runs(client, "stop")
    assert run.info.status == "KILLED"


def test_last_expression_is_the_cell_result(ip, tracker):
    result = ip.run_cell("%%track\nx = 20\nx + 1")
    assert result.result == 21


def test_syntax_error_starts_no_run(ip, tracker, client):
    result = ip.run_cell("%%track broken\nx = (\n")
    assert not result.success
    assert "syntax error" in str(result.error_in_exec)
    tracker.logger.flush(30)
    assert _runs(client, "broken") == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--bogus", "unrecognized arguments: --bogus"),
        ("--param lr", "--param expects KEY=VALUE"),
        ("--no-capture gitt", "unknown part(s) ['gitt']"),
    ],
)
def test_bad_flags_give_fix_it_errors(ip, tracker, line, message):
    result = ip.run_cell(f"%%track {line}\nx = 1")
    assert not result.success
    assert message in str(result.error_in_exec)


def test_metrics_flag_with_missing_variable_warns_but_keeps_the_cell(ip, tracker, capsys):
    result = ip.run_cell("%%track --metrics nope\ny = 2")
    assert result.success
    assert "'nope' is not defined" in capsys.readouterr().out


def test_parameters_cell_values_are_params_only_when_read_with_the_value_read(ip, tracker,
                                                                                 client):
    ip.run_cell("# Parameters\nepochs = 7\nname = 'x'\n", store_history=True)
    ip.run_cell("epochs = 9", store_history=True)  # an untracked cell changes it
    ip.run_cell("%%track pm\ny = epochs * 2", store_history=True)
    ip.run_cell("%%track other\nz = 1", store_history=True)
    tracker.logger.flush(60)
    (run,) = _runs(client, "pm")
    assert run.data.params["epochs"] == "9" and "name" not in run.data.params
    (other,) = _runs(client, "other")
    assert "epochs" not in other.data.params  # never read: not a param of this run


def test_figures_left_open_are_captured(ip, tracker, client):
    ip.run_cell("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt")
    ip.run_cell("%%track fig\nplt.plot([1, 2, 3])")
    ip.run_cell("plt.close('all')")
    tracker.logger.flush(60)
    (run,) = _runs(client, "fig")
    assert "figures/figure-1.png" in _artifacts(client, run.info.run_id)


def test_default_run_name():
    assert default_run_name("# Train it\nx = 1", 4) == "Train it"
    assert default_run_name("x = 1", 4) == "cell-4"
    assert default_run_name("\n\n#   \nx=1", 2) == "cell-2"


def test_status_magic(ip, tracker, capsys):
    ip.run_line_magic("nbops", "status")
    out = capsys.readouterr().out
    assert "tracking store : sqlite:///" in out and "spool backlog" in out


def test_log_model_flag_registers_the_variable(ip, tracker, client):
    result = ip.run_cell("%%track fit --log-model net=tiny-net\nimport torch\n"
                         "net = torch.nn.Linear(3, 2)")
    assert result.success
    version = client.get_model_version("tiny-net", "1")
    (run,) = _runs(client, "fit")
    assert version.run_id == run.info.run_id
    bad = ip.run_cell("%%track --log-model missing\nx = 1")
    assert bad.success  # the cell itself succeeded; the summary says what went wrong


def test_params_parse_in_cells_with_ipython_syntax(ip, tracker, client):
    ip.run_cell("%%track ipy\n%env NBOPS_TEST_FLAG=1\nlr = 0.25\n!true", store_history=True)
    tracker.logger.flush(60)
    (run,) = _runs(client, "ipy")
    assert run.data.params["lr"] == "0.25"
