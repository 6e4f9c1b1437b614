"""Shared fixtures: a real MLflow store per test, nbops settings pointing at it.

The store suites (tracking API, durability, the magic, the registry and the server extension)
run twice: on the embedded SQLite store and on the team setup, a real ``mlflow server`` backed
by PostgreSQL with proxied artifacts (one per session, emptied between tests). The ``project``
fixture is where the two differ; tests ask for ``project``/``settings``/``client``/``tracker``
and need not know which store they got. A test that only makes sense on the embedded store
(its file, its creation) says so with ``@pytest.mark.sqlite_only("why")``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbops_test_support import MlflowServer, PostgresServer, TeamStore

from nbops.config import Settings, load_settings
from nbops.tracking.run import Tracker


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database with the schema created once (migrations take ~2 s)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


TESTS = Path(__file__).resolve().parent
#: The suites that run on both stores (files, or folders ending in "/"), relative to tests/.
STORE_SUITES = ("store/", "test_tracking_api.py", "test_durability.py", "test_magic.py",
                "registry/", "server/")
#: Tests of those suites that are about the embedded store itself, by node name, and why; a
#: test can also say so itself with ``@pytest.mark.sqlite_only("why")``.
SQLITE_ONLY = {
    "test_magic.py::test_status_magic": "checks the status line of the embedded store",
    "test_durability.py::test_server_killed_mid_run_then_sync_ships_every_point_once":
        "starts and kills its own SQLite-backed server (tests/team kills the PostgreSQL one)",
    "test_durability.py::test_two_processes_write_one_embedded_store_and_lose_nothing":
        "two processes writing one SQLite file",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): runs on the embedded SQLite store "
                                       "only (the reason says why)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test of the store suites that uses a project on both stores."""
    if "store_kind" not in metafunc.fixturenames:
        return
    rel = Path(str(metafunc.definition.path)).relative_to(TESTS).as_posix()
    if not any(rel == s or (s.endswith("/") and rel.startswith(s)) for s in STORE_SUITES):
        return
    if metafunc.definition.get_closest_marker("sqlite_only") \
            or f"{rel.rsplit('/', 1)[-1]}::{metafunc.definition.originalname}" in SQLITE_ONLY:
        return
    metafunc.parametrize("store_kind", ["sqlite", "postgres"], indirect=True)


@pytest.fixture(scope="session")
def team_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamStore]:
    """One PostgreSQL-backed ``mlflow server`` for the session (skipped when PostgreSQL is
    not installed, except under CI, where that fails: `make test` installs it)."""
    if PostgresServer.bindir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; `make test` installs it (make pg-deps). "
                        "The store suites must run on it in CI.")
        pytest.skip("PostgreSQL is not installed (`make pg-deps` installs it)")
    store = TeamStore(tmp_path_factory.mktemp("team-store"))
    store.start()
    yield store
    store.stop()


@pytest.fixture()
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store this test's project uses: "sqlite" (embedded) or "postgres" (team server)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture()
def project(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder (pyproject.toml) with an empty store: a fresh copy of the migrated
    SQLite template, or the session's PostgreSQL-backed server, emptied."""
    root = tmp_path / "proj"
    (root / ".nbops").mkdir(parents=True)
    for var in ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME", "NBOPS_EXPERIMENT",
                "NBOPS_NO_CAPTURE", "NBOPS_PARENT_RUN_ID", "NBOPS_NOTEBOOK_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(root)
    if store_kind == "sqlite":
        (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
        shutil.copy(request.getfixturevalue("migrated_db"), root / ".nbops" / "mlflow.db")
        yield root
        return
    team: TeamStore = request.getfixturevalue("team_store")
    team.reset()
    # This process's open stores remember experiment ids the reset deleted.
    from nbops.store import client as store_client

    monkeypatch.setattr(store_client, "_stores", {})
    (root / "pyproject.toml").write_text(
        f"[project]\nname = 'demo'\n\n[tool.nbops]\ntracking_uri = '{team.url}'\n")
    yield root
    # The server outlives the test: what this test's processes still ship to it (a
    # background `nbops sync` after a script's exit) must land before the next test's reset.
    _wait_shipped(root / ".nbops" / "spool.db", team.url)


def _wait_shipped(spool: Path, url: str, timeout: float = 20.0) -> None:
    import sqlite3
    import time

    if not spool.exists():
        return
    deadline = time.monotonic() + timeout
    db = sqlite3.connect(spool, timeout=10)
    try:
        while time.monotonic() < deadline:
            (left,) = db.execute(
                "SELECT COUNT(*) FROM events e JOIN runs r ON r.uid = e.run_uid "
                "WHERE e.shipped = 0 AND r.store_uri = ?", (url,)).fetchone()
            if not left:
                return
            time.sleep(0.1)
    finally:
        db.close()


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


