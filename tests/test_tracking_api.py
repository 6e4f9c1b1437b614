"""The plain-Python tracking API (`nbops.track`), its bad-input errors, settings and exports."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import nbops
from nbops.config import load_settings
from nbops.exceptions import ConfigError, NoActiveRunError, UsageError
from nbops.tracking.capture import literal_params, used_values
from nbops.tracking.run import Tracker, track


def _only_run(client, name):
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
            if r.info.run_name == name]
    assert len(runs) == 1, runs
    return runs[0]


def test_track_in_a_script_logs_everything(tracker, client):
    with track("script", tracker=tracker, params={"lr": 0.1}, tags={"k": "v"}) as run:
        nbops.log(loss=0.5)
        nbops.log(loss=0.25)
        nbops.log_metrics({"acc": 0.9}, step=3)
        nbops.log_params({"batch": 32})
        nbops.set_tags({"stage": "dev"})
        nbops.log_artifact({"a": 1}, "meta/info.json")
    assert run.wait(60)
    r = _only_run(client, "script")
    assert r.info.status == "FINISHED"
    assert r.data.params == {"lr": "0.1", "batch": "32"}
    assert r.data.tags["k"] == "v" and r.data.tags["stage"] == "dev"
    assert [m.value for m in client.get_metric_history(r.info.run_id, "loss")] == [0.5, 0.25]
    assert client.get_metric_history(r.info.run_id, "acc")[0].step == 3
    assert [a.path for a in client.list_artifacts(r.info.run_id, "meta")] == ["meta/info.json"]


def test_a_tag_naming_a_run_and_a_notebook_logged_as_html(tracker, client, tmp_path):
    """``set_tag_to_run`` ships the MLflow id of the run it names (known only once that run is
    in MLflow); ``log_notebook_html`` ships the notebook rendered by nbconvert, and a text
    nbconvert cannot read as the tag ``nbops.html_error`` instead."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    page = nbformat.writes(new_notebook(cells=[new_code_cell("print('rendered when shipped')")]))
    with track("source", tracker=tracker) as source:
        pass
    with track("pointer", tracker=tracker) as run:
        run.set_tag_to_run("points.at", source.uid)
        run.log_notebook_html(page, "nb/page.html")
        run.log_notebook_html("not a notebook", "nb/broken.html")
    assert run.wait(60) and source.wait(60)
    r = _only_run(client, "pointer")
    assert r.data.tags["points.at"] == source.mlflow_run_id
    assert "nbops.html_error" in r.data.tags
    assert [a.path for a in client.list_artifacts(r.info.run_id, "nb")] == ["nb/page.html"]
    html = Path(client.download_artifacts(r.info.run_id, "nb/page.html", str(tmp_path)))
    assert "rendered when shipped" in html.read_text() and "<html" in html.read_text()
    with pytest.raises(UsageError, match=r"must end with \.html"):
        run.log_notebook_html(page, "nb/page.txt")


def test_a_run_whose_parent_is_on_another_machine_ships_once_the_parent_is_in_mlflow(
        settings, client, tmp_path, monkeypatch):
    """A kernel on another machine (its own spool: a pipeline step on a Dask worker) names its
    parent run by nbops id. Its block never waits; its run reaches MLflow nested under the
    parent once that is in MLflow, or, past ``PARENT_PATIENCE``, without it."""
    from dataclasses import replace

    import nbops.tracking.logger as logger_module
    from nbops.store import open_store

    worker = Tracker(replace(settings, home=tmp_path / "worker-home"))
    monkeypatch.setenv("NBOPS_PARENT_UID", "a" * 32)
    with track("on the worker", tracker=worker, experiment="remote") as child:
        nbops.log(x=1.0)
    assert not child.wait(1.5)  # its parent is not in MLflow yet
    store = open_store(settings)
    parent_id = store.create_run(store.experiment_id("remote"), "a" * 32, "the step run",
                                 child.started, None)  # as the runner's machine ships it
    assert child.wait(60)
    assert client.get_run(child.mlflow_run_id).data.tags["mlflow.parentRunId"] == parent_id

    monkeypatch.setenv("NBOPS_PARENT_UID", "b" * 32)  # a parent that never reaches MLflow
    monkeypatch.setattr(logger_module, "PARENT_PATIENCE", 0.0)
    with track("orphan", tracker=worker, experiment="remote") as orphan:
        pass
    assert orphan.wait(60)
    assert "mlflow.parentRunId" not in client.get_run(orphan.mlflow_run_id).data.tags


def test_nested_track_is_a_child_run(tracker, client):
    with track("outer", tracker=tracker) as outer, track("inner", tracker=tracker) as inner:
        pass
    assert inner.wait(60) and outer.wait(60)
    assert _only_run(client, "inner").data.tags["mlflow.parentRunId"] == outer.mlflow_run_id


def test_metric_values_numpy_torch_nan(tracker, client):
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    with track("values", tracker=tracker) as run:
        run.log(a=np.float32(0.5), b=np.int64(3), c=torch.tensor(2.5), d=True, e=float("nan"))
        run.log(e=float("inf"))
    assert run.wait(60)
    m = _only_run(client, "values").data.metrics
    assert m["a"] == 0.5 and m["b"] == 3 and m["c"] == 2.5 and m["d"] == 1
    assert run.summary().metrics["e"].non_finite_step == 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"acc": "high"}, "metric 'acc' got a str"),
        ({"bad key!": 1.0}, "metric name 'bad key!' is not valid"),
        ({"t": [1, 2]}, "metric 't' got a list"),
    ],
)
def test_bad_metric_values_are_refused_with_the_fix(tracker, values, message):
    with track("bad", tracker=tracker) as run, pytest.raises(UsageError, match=message):
        run.log_metrics(values)


def test_tensor_metric_must_hold_one_value(tracker):
    torch = pytest.importorskip("torch")
    with track("tensor", tracker=tracker) as run, pytest.raises(UsageError, match="shape"):
        run.log(x=torch.ones(3))


def test_long_param_is_truncated_and_kept_whole_as_artifact(tracker, client):
    long = "x" * 7000
    with track("long", tracker=tracker) as run:
        run.log_params({"prompt": long})
    assert run.wait(60)
    r = _only_run(client, "long")
    assert len(r.data.params["prompt"]) <= 6000
    assert "truncated" in r.data.params["prompt"]
    path = client.download_artifacts(r.info.run_id, "params/prompt.txt")
    assert Path(path).read_text() == long


def test_thousands_of_params(tracker, client):
    with track("many", tracker=tracker) as run:
        run.log_params({f"p{i}": i for i in range(2500)})
    assert run.wait(120)
    assert len(_only_run(client, "many").data.params) == 2500


def test_unserializable_param_and_changed_param(tracker):
    with track("objs", tracker=tracker) as run:
        with pytest.raises(UsageError, match="no readable value"):
            run.log_params({"model": object()})
        run.log_params({"lr": 0.1})
        with pytest.raises(UsageError, match="immutable"):
            run.log_params({"lr": 0.2})


def test_logging_outside_a_run_says_what_to_do():
    with pytest.raises(NoActiveRunError, match="%%track"):
        nbops.log(x=1)


def test_exception_in_block_reraises_unchanged_and_marks_failed(tracker, client):
    err = RuntimeError("boom")
    with pytest.raises(RuntimeError) as info, track("fails", tracker=tracker) as run:
        raise err
    assert info.value is err
    assert run.wait(60)
    assert _only_run(client, "fails").info.status == "FAILED"


def test_unreachable_server_at_start_runs_the_block_and_spools(project, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: refused
    t = Tracker(load_settings(project))
    ran = []
    with track("x", tracker=t) as run:
        ran.append(True)
        run.log(loss=1.0)
    assert ran and run.status == "FINISHED"
    assert "unreachable" in (t.logger.problem or "")
    assert t.logger.spool.run_backlog(run.uid) > 0  # kept for `nbops sync`
    t.logger._stop = True


@pytest.mark.parametrize("uri, words", [
    ("htp://127.0.0.1:5000", "no scheme MLflow knows"),
    ("http://", "names no host"),
    ("./mlruns", "MLFLOW_ALLOW_FILE_STORE"),
])
def test_a_configuration_that_can_never_work_fails_fast(project, monkeypatch, uri, words):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(ConfigError, match=words), track("x", tracker=Tracker()):
        pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_home_fails_fast(project, monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("NBOPS_HOME", str(ro / "home"))
    with pytest.raises(ConfigError, match="writable"), track("x", tracker=Tracker()):
        pass


def test_unwritable_home_fails_fast_even_for_root(project, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NBOPS_HOME", str(blocker / "home"))
    with pytest.raises(ConfigError, match="NBOPS_HOME"), track("x", tracker=Tracker()):
        pass


def test_settings_precedence(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.nbops]\nexperiment = 'from-toml'\nno_capture = ['git']\nhome = 'state'\n")
    s = load_settings(tmp_path, env={})
    assert s.experiment == "from-toml" and s.no_capture == {"git"}
    assert s.home == tmp_path / "state" and s.embedded
    s = load_settings(tmp_path, env={"NBOPS_EXPERIMENT": "env", "MLFLOW_TRACKING_URI": "http://x"})
    assert s.experiment == "env" and s.tracking_uri == "http://x" and not s.embedded
    s = load_settings(tmp_path, env={"NBOPS_TRACKING_URI": "http://a", "MLFLOW_TRACKING_URI": "b"})
    assert s.tracking_uri == "http://a"
    assert s.registry_writes
    assert not load_settings(tmp_path, env={"NBOPS_REGISTRY_WRITES": "off"}).registry_writes


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[tool.nbops]\nexperimnt = 'x'\n", "Unknown key"),
        ("[tool.nbops]\nno_capture = ['gti']\n", "unknown part"),
        ("[tool.nbops\n", "Fix the TOML"),
        ("[tool.nbops]\nregistry_writes = 'maybe'\n", "registry_writes must be on or off"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path, toml, message):
    (tmp_path / "pyproject.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, env={})


def test_literal_params():
    src = ("lr = 0.1\nname: str = 'x'\nlayers = [1, 2]\nlosses = []\ncfg = {'a': 1}\n"
           "n = len(data)\na = b = -3\n_private = 1\nbig = list(range(100))\nt = (1, 'a')\n")
    assert literal_params(src) == {"lr": 0.1, "name": "x", "layers": [1, 2], "cfg": {"a": 1},
                                   "a": -3, "b": -3, "t": (1, "a")}
    assert literal_params("x = (") == {}


def test_used_values_reads_scalars_from_earlier_cells():
    ns = {"hidden": 32, "lr": 0.1, "df": object(), "name": "m", "epoch": 3}
    src = "model = make(hidden, df, name)\nfor epoch in range(2): step(lr)"
    assert used_values(src, ns) == {"hidden": 32, "name": "m", "lr": 0.1}


def test_public_api_is_pinned():
    assert sorted(nbops.__all__) == sorted([
        "NbopsError", "__version__", "active_run", "compare", "dataset", "datasets", "flush",
        "gate", "lineage", "load_ipython_extension", "log", "log_artifact", "log_metrics", "log_model",
        "log_params", "monitor", "output", "package", "registry", "serve", "set_tags", "track",
        "unload_ipython_extension",
    ])
    for name in nbops.__all__:
        assert hasattr(nbops, name)
    assert callable(nbops.registry.list_models)


def test_import_nbops_stays_light():
    code = ("import sys, nbops\nheavy = [m for m in ('mlflow', 'torch', 'pandas', 'numpy', "
            "'onnxruntime', 'evidently', 'papermill', 'IPython') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shipped_events_of_ended_runs_are_pruned_at_start(tracker, settings):
    from nbops.tracking.spool import Spool

    with track("old", tracker=tracker) as run:
        run.log(x=1.0)
    assert run.wait(60)
    spool = Spool(settings.home)
    count = "SELECT COUNT(*) FROM events WHERE run_uid = ?"
    assert spool._db().execute(count, (run.uid,)).fetchone()[0] > 0
    assert spool.prune() > 0
    assert spool._db().execute(count, (run.uid,)).fetchone()[0] == 0
    assert spool.run(run.uid).mlflow_id == run.mlflow_run_id  # the run mapping stays


def test_staging_folders_of_shipped_artifacts_are_removed(tracker, settings):
    from nbops.tracking.logger import _remove_empty_folders

    with track("art", tracker=tracker) as run:
        run.log_artifact({"a": 1}, "meta/a.json")
    assert run.wait(60)
    staging = settings.home / "staging"
    assert not [p for p in staging.rglob("*") if p.is_file()]  # shipped files are deleted
    _remove_empty_folders(staging)
    assert list(staging.iterdir()) != []  # just written: kept (a cell may be writing there)
    import os

    for folder in staging.rglob("*"):
        os.utime(folder, (0, 0))  # as if shipped long ago
    _remove_empty_folders(staging)
    assert list(staging.iterdir()) == []


def test_a_kernel_reads_back_the_environment_nbops_gives_it(settings):
    """``kernel_environment`` (what nbops sets for a kernel it starts) and ``kernel_context``
    (what the kernel reads) are one contract, both in config."""
    from nbops.config import kernel_context, kernel_environment, load_settings

    env = kernel_environment(settings, "exp", parent_uid="abc", notebook="/nb/train.ipynb",
                             registry_writes=False)
    context = kernel_context(env)
    assert (context.parent_uid, context.parent_run_id, context.notebook_path) == \
        ("abc", None, "/nb/train.ipynb")
    inside = load_settings(settings.project_root, env=env)
    assert (inside.tracking_uri, inside.home, inside.experiment, inside.registry_writes) == \
        (settings.tracking_uri, settings.home, "exp", False)
    assert kernel_context({}) == kernel_context({"NBOPS_PARENT_UID": ""})
