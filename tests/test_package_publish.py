"""nbops.package.onnx end to end: a registered torch model → package run → registered ONNX
version carrying lineage back to its source (real torch, onnxruntime, MLflow registry)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nbops
import nbops.workflows.package as package
from nbops import log_model
from nbops.exceptions import NotFoundError, UsageError
from nbops.tracking.run import track


def _trained(tracker) -> str:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    with track("train", tracker=tracker):
        ref = log_model(model, "tiny", input_example=torch.randn(1, 8),
                        pip_requirements=["torch"])
    return str(ref)


def test_package_registered_model_records_lineage(tracker, client, settings, monkeypatch):
    source = _trained(tracker)  # "tiny/1"
    pkg = package.onnx(source, torch.randn(1, 8))
    assert pkg.uri == "models:/tiny-onnx/1"
    mv = client.get_model_version("tiny-onnx", "1")
    assert mv.tags["nbops.source_model"] == "tiny/1"
    assert mv.tags["nbops.source_run"] == client.get_model_version("tiny", "1").run_id
    run = client.get_run(pkg.run_id)
    assert run.data.tags["nbops.package"] == "onnx"
    assert run.data.metrics["parity_max_abs_error"] <= 1e-5
    assert run.data.params["variant"] == "fp32"

    import mlflow.pyfunc
    import mlflow.pytorch

    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
    served = mlflow.pyfunc.load_model(pkg.uri)  # the packaged model, served as MLflow serves it
    trained = mlflow.pytorch.load_model("models:/tiny/1")
    x = np.random.default_rng(0).standard_normal((3, 8)).astype("float32")
    out = served.predict(x)
    out = np.asarray(next(iter(out.values())) if isinstance(out, dict) else out)
    with torch.no_grad():
        expected = trained(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)

    graph = nbops.lineage("tiny-onnx/1", direction="upstream")
    kinds = {n.kind for n in graph.nodes.values()} if isinstance(graph.nodes, dict) else {
        n.kind for n in graph.nodes}
    assert {"package", "model", "run"} <= kinds


def test_package_unknown_sources_are_explained(tracker):
    with pytest.raises(NotFoundError, match="tiny"):
        _trained(tracker)
        package.onnx("tiny/9", torch.randn(1, 8))
    with pytest.raises(UsageError, match="torch.nn.Module"):
        package.onnx(3.14, torch.randn(1, 8))


def test_package_cli_builds_the_example_from_the_signature(tracker, project):
    import subprocess
    import sys

    _trained(tracker)
    tracker.logger.flush(60)
    result = subprocess.run([sys.executable, "-m", "nbops", "package", "tiny/1", "--alias",
                             "serving"], cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "registered models:/tiny-onnx/1 (fp32" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "nbops", "package", "tiny/1", "--example-shape",
                          "1,x"], cwd=project, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--example-shape" in bad.stderr
