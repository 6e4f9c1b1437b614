"""The demo notebook runs headless under papermill (a real kernel) and lands in the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import papermill
from nbops_test_support import ROOT


def test_train_notebook_under_papermill(project: Path, client, monkeypatch):
    notebook = project / "train.ipynb"
    shutil.copy(ROOT / "example_notebooks" / "train.ipynb", notebook)
    monkeypatch.setenv("NBOPS_NOTEBOOK_PATH", str(notebook))
    papermill.execute_notebook(str(notebook), str(project / "out.ipynb"),
                               parameters={"epochs": 5, "lr": 0.2}, cwd=str(project),
                               progress_bar=False, kernel_name="python3")
    from nbops.config import load_settings
    from nbops.tracking.logger import replay

    assert replay(load_settings(project), timeout=60).left == 0
    exp = client.get_experiment_by_name("train")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert {"Load the data", "Train the MLP", "train.ipynb session"} <= set(runs)
    train = runs["Train the MLP"]
    assert train.info.status == "FINISHED"
    assert train.data.params["epochs"] == "5" and train.data.params["lr"] == "0.2"
    assert train.data.params["hidden"] == "32"  # read from the parameters cell
    assert "accuracy" in train.data.metrics
    assert len(client.get_metric_history(train.info.run_id, "loss")) == 5
    assert train.data.tags["mlflow.source.name"] == str(notebook)
    names = {a.path for a in client.list_artifacts(train.info.run_id, "notebook")}
    assert names == {"notebook/history.ipynb", "notebook/train.ipynb"}
    assert {a.path for a in client.list_artifacts(train.info.run_id, "figures")} == {
        "figures/loss.png"}
    # the model is registered, linked to the training data loaded in the cell before
    version = client.get_model_version_by_alias("demo-classifier", "candidate")
    assert version.run_id == train.info.run_id
    assert "nbops.dataset.train.digest" in version.tags
    assert json.loads(train.data.tags["nbops.output.model_uri"]) == "models:/demo-classifier/1"
    assert "monitoring/reference_profile.json" in {
        a.path for a in client.list_artifacts(train.info.run_id, "monitoring")}


def test_make_demo_runs_the_whole_loop_from_a_fresh_folder(tmp_path: Path):
    """`make demo` as a user runs it: a folder with no store, the demo script a real process
    that starts its own server, scheduler check, kernels and gate, and exits when done."""
    import os
    import shlex
    import subprocess
    import sys

    from mlflow import MlflowClient

    root = tmp_path / "fresh"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'fresh'\n")
    shutil.copytree(ROOT / "example_notebooks", root / "example_notebooks",
                    ignore=shutil.ignore_patterns("output", "data"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "NBOPS_"))}
    done = subprocess.run([sys.executable, "example_notebooks/run_demo.py"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = done.stdout
    for line in ("monitoring status of v1: drift", "demo-classifier v2 @challenger",
                 "decision: promoted", "v2 answers"):
        assert line in out, out
    assert "PASS  shadow_agreement" in out and "shadow traffic: " in out

    client = MlflowClient(f"sqlite:///{root / '.nbops' / 'mlflow.db'}")
    assert str(client.get_model_version_by_alias("demo-classifier", "champion").version) == "2"
    v2 = client.get_model_version("demo-classifier", "2")
    assert v2.tags["nbops.gate.decision"] == "promoted"
    assert "nbops.dataset.train.digest" in v2.tags  # linked to the window it was trained on
    trained = client.get_run(v2.run_id)
    assert trained.data.params["trigger_reason"].startswith(
        "demo-classifier@champion v1: monitoring status drift")
    history = [json.loads(line) for line in
               (root / ".nbops" / "ct" / "history.jsonl").read_text().splitlines()]
    assert [h["decision"] for h in history] == ["retrain", "promoted"]
    timings = json.loads((root / "example_notebooks" / "output" / "demo_timings.json")
                         .read_text())
    assert {"loop_s", "drift_to_promotion_s", "promotion_to_serving_s"} <= set(timings)

    # the training run read the request-log window; the gate's held-out rows are no input of it
    from nbops.registry.lineage import run_datasets

    inputs = [ds.name for ds, context in run_datasets(trained) if context == "input"]
    assert any(n.endswith("retrain_window.csv") for n in inputs), inputs
    assert not any("gate_window" in n for n in inputs), inputs

    # the commands the demo printed work when typed in the folder it was started from
    def typed(step: int) -> list[str]:
        line = next(x for x in out.splitlines() if x.startswith(f"▸ {step}. "))
        return shlex.split(line.split(": ", 1)[1])

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                              timeout=600)

    again = run(typed(1))
    assert again.returncode == 0 and "cached" in again.stdout, again.stdout + again.stderr
    client.set_registered_model_alias("demo-classifier", "challenger", "1")  # v2 is champion
    gated = run([*typed(7), "--dry-run"])
    assert gated.returncode in (0, 1), gated.stdout + gated.stderr  # 2 would be a usage error
    assert "challenger v1 (onnx) vs champion v2" in gated.stdout
    assert "decision: dry-run" in gated.stdout
    # the monitor step on the server's request log, as docs/monitoring.md tells
    monitored = run([str(Path(sys.executable).parent / "nbops"), "run",
                     "example_notebooks/pipeline.yaml", "--only", "monitor",
                     "-p", "request_log_window=1h"])
    assert monitored.returncode == 0, monitored.stdout + monitored.stderr
