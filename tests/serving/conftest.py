"""A real project for the serving tests: an MLflow SQLite store holding model ``tiny`` with
versions 1 and 2 packaged to ONNX and version 3 not packaged (served through its pyfunc), and
servers started as real processes on loopback.

The store is built once per session (training + packaging takes a few seconds); tests that
move aliases put them back.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_helpers import FEATURES, make_model

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="session")
def served_project(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Path:
    """The project folder, built once; tests enter it through ``project_dir``."""
    import nbops.tracking.run as run_module
    from nbops import log_model
    from nbops.config import load_settings
    from nbops.registry.api import set_alias
    from nbops.tracking.run import Tracker, track
    from nbops.workflows.package import onnx

    root = tmp_path_factory.mktemp("serving") / "proj"
    (root / ".nbops").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'serving-demo'\n")
    shutil.copy(migrated_db, root / ".nbops" / "mlflow.db")
    saved_env = {k: os.environ.pop(k, None) for k in (
        "MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME", "NBOPS_EXPERIMENT")}
    saved_cwd = os.getcwd()
    os.chdir(root)
    tracker = Tracker(load_settings(root))
    previous, run_module._default = run_module._default, tracker
    try:
        for seed in (0, 1, 2):
            with track(f"train {seed}", tracker=tracker):
                ref = log_model(make_model(seed), "tiny", input_example=torch.randn(1, FEATURES),
                                pip_requirements=["torch"])
            if seed < 2:
                onnx(str(ref), torch.randn(1, FEATURES))
        tracker.logger.flush(60)
        set_alias("tiny", "prod", 1, reason="first")
        set_alias("tiny", "challenger", 2, reason="candidate")
        set_alias("tiny", "raw", 3, reason="not packaged")
    finally:  # the rest of the suite keeps its own working directory and settings
        run_module._default = previous
        tracker.close()
        if tracker._logger is not None:
            tracker._logger._stop = True
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is not None:
                os.environ[key] = value
    return root


@pytest.fixture()
def project_dir(served_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The served project as the working directory (the autouse fixtures may have moved it)."""
    monkeypatch.chdir(served_project)
    for var in ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME"):
        monkeypatch.delenv(var, raising=False)
    return served_project


@pytest.fixture()
def start_server(project_dir: Path) -> Iterator:
    """``start_server("tiny@prod", canary=..., ...)``: a real server process, stopped after."""
    import nbops

    started = []

    def start(ref: str = "tiny@prod", **kwargs):
        handle = nbops.serve(ref, **kwargs)
        started.append(handle)
        return handle.wait(180)

    yield start
    for handle in started:
        handle.stop()
