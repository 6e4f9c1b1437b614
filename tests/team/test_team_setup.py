"""The team setup, for real: a real `mlflow server` with proxied artifacts, backed by a real
PostgreSQL server, and nbops pointed at it the way docs/configuration.md says.

Capture (a kernel and a script), a server killed and restarted mid-run, the registry (log_model,
audited aliases, rollback) and the lineage query all run against it. The same flows run against
the embedded SQLite store in the rest of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbops_test_support import MlflowServer, PostgresServer

pytestmark = pytest.mark.slow

CLEAN_ENV = ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME", "NBOPS_EXPERIMENT",
             "NBOPS_NO_CAPTURE", "NBOPS_PARENT_RUN_ID", "NBOPS_NOTEBOOK_PATH")


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    if PostgresServer.bindir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; `make test` installs it (apt-get install "
                        "-y postgresql). The team-setup suite must run in CI.")
        pytest.skip("PostgreSQL is not installed (make test installs it)")
    pg = PostgresServer()
    pg.start()
    server = MlflowServer(tmp_path_factory.mktemp("team"), backend_store_uri=pg.url)
    try:
        server.start(timeout=240)
        yield server
    finally:
        server.stop()
        pg.stop()


@pytest.fixture()
def project(tmp_path: Path, team_server: MlflowServer) -> Path:
    root = tmp_path / "teamproj"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        f"[project]\nname = 'teamproj'\n\n[tool.nbops]\ntracking_uri = '{team_server.url}'\n")
    return root


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}


def _sync(cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "nbops", "sync"], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_capture_registry_and_lineage_on_the_team_server(project: Path,
                                                         team_server: MlflowServer) -> None:
    (project / "train.py").write_text('''
import nbops, torch, pandas as pd
from nbops import log_model
from nbops.registry import set_alias, rollback, history, lineage

df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0]})
refs = []
for lr in (0.1, 0.01):
    with nbops.track(f"train-{lr}", params={"lr": lr}) as run:
        nbops.dataset(df, name="train")
        for step in range(50):
            nbops.log(loss=1.0 / (step + 1), step=step)
        model = torch.nn.Linear(2, 1)
        refs.append(log_model(model, "teamnet", input_example=torch.zeros(1, 2),
                                    pip_requirements=["torch"], alias="champion",
                                    reason=f"lr {lr}"))
back = rollback("teamnet", "champion", reason="the first was better")
print("ROLLED", back.from_version, back.to_version)
print("HISTORY", len(history("teamnet", "champion")))
graph = lineage("teamnet@champion", direction="upstream")
print("KINDS", sorted({n.kind for n in graph.nodes.values()}))
''')
    done = subprocess.run([sys.executable, "train.py"], cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "ROLLED 2 1" in out
    assert "HISTORY 3" in out
    assert "'dataset'" in out and "'run'" in out
    _sync(project)

    from mlflow import MlflowClient

    client = MlflowClient(team_server.url)
    exp = client.get_experiment_by_name("teamproj")
    runs = client.search_runs([exp.experiment_id], "attributes.run_name = 'train-0.1'")
    (run,) = runs
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 50
    assert run.data.params["lr"] == "0.1"
    assert run.data.tags["nbops.dataset.train.rows"] == "3"
    paths = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"code", "environment"} <= paths  # proxied artifacts, through the server
    assert client.get_model_version_by_alias("teamnet", "champion").version == "1"


DRILL = """
import sys, time
import nbops
with nbops.track("drill") as run:
    for i in range(200):
        nbops.log(x=float(i), step=i)
    assert run.wait(120), "first half did not ship"
    print("KILL", flush=True)
    sys.stdin.readline()
    for i in range(200, 400):
        nbops.log(x=float(i), step=i)
print("DONE", flush=True)
"""


def test_server_restarted_mid_run_loses_and_duplicates_nothing(project: Path,
                                                                team_server: MlflowServer) -> None:
    proc = subprocess.Popen([sys.executable, "-c", DRILL], cwd=project, env=_env(), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "KILL", proc.stderr.read()
        team_server.stop()
        proc.stdin.write("\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "DONE" in out, err
    finally:
        if team_server.proc is None or team_server.proc.poll() is not None:
            team_server.start(timeout=240)  # same port, same PostgreSQL database
    _sync(project)
    _sync(project)  # twice: idempotent

    from mlflow import MlflowClient

    client = MlflowClient(team_server.url)
    exp = client.get_experiment_by_name("teamproj")
    (run,) = client.search_runs([exp.experiment_id], "attributes.run_name = 'drill'")
    assert run.info.status == "FINISHED"
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "x"))
    assert steps == list(range(400))  # every point exactly once
