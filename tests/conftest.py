"""Shared fixtures: a real SQLite MLflow store per test, nbops settings pointing at it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbops_test_support import MlflowServer

from nbops.config import Settings, load_settings
from nbops.tracking.run import Tracker


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database with the schema created once (migrations take ~2 s)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture()
def project(tmp_path: Path, migrated_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (pyproject.toml) whose embedded store is a fresh copy of the template."""
    root = tmp_path / "proj"
    (root / ".nbops").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    shutil.copy(migrated_db, root / ".nbops" / "mlflow.db")
    for var in ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME", "NBOPS_EXPERIMENT",
                "NBOPS_NO_CAPTURE", "NBOPS_PARENT_RUN_ID", "NBOPS_NOTEBOOK_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.fixture(autouse=True)
def _fresh_default_tracker() -> Iterator[None]:
    """Each test starts without a process-default tracker (it is created from the settings in
    force on first use), and one created during the test is closed after it."""
    import nbops.tracking.run as run_module

    previous, run_module._default = run_module._default, None
    yield
    created, run_module._default = run_module._default, previous
    if created is not None and created is not previous and created._logger is not None:
        created._logger._stop = True


@pytest.fixture()
def settings(project: Path) -> Settings:
    return load_settings(project)


@pytest.fixture()
def tracker(settings: Settings) -> Iterator[Tracker]:
    """A tracker on this test's store, installed as the process default so library code that
    calls ``nbops.track()`` (monitoring, packaging, reproduce) writes to the same store."""
    import nbops.tracking.run as run_module

    t = Tracker(settings)
    run_module._default = t
    yield t
    t.close()
    if t._logger is not None:
        t._logger._stop = True


@pytest.fixture()
def client(settings: Settings):
    from mlflow import MlflowClient

    return MlflowClient(settings.tracking_uri)


@pytest.fixture()
def mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path / "server")
    server.start()
    yield server
    server.stop()


