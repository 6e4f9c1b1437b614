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
