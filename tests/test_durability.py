"""Failure drills with real parts: a real `mlflow server` killed mid-run, a real kernel killed
mid-run, two processes writing one embedded store at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel
from nbops_test_support import MlflowServer, run_python

from nbops.config import load_settings
from nbops.tracking.spool import Spool


def _nbops_cli(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "nbops", *args], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=180)


DRILL = """
import sys, time
import nbops
with nbops.track("drill") as run:
    for i in range(300):
        nbops.log(x=float(i), step=i)
    assert run.wait(60), "first half did not ship"
    print("KILL", flush=True)
    sys.stdin.readline()                     # the test kills the server here
    for i in range(300, 600):
        nbops.log(x=float(i), step=i)
    time.sleep(1.5)                          # the worker meets the dead server
    print("PROBLEM", run.summary().problem, flush=True)
print("DONE", flush=True)
"""


def test_server_killed_mid_run_then_sync_ships_every_point_once(project, tmp_path):
    server = MlflowServer(tmp_path / "server")
    server.start()
    env = {**os.environ, "NBOPS_TRACKING_URI": server.url, "NBOPS_FLUSH_TIMEOUT": "2",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
    try:
        proc = subprocess.Popen([sys.executable, "-c", DRILL], cwd=project, env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout.readline().strip() == "KILL", proc.stderr.read()
        server.stop()
        proc.stdin.write("\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "unreachable" in out  # the one warning the user sees
        assert "DONE" in out

        status = _nbops_cli("status", cwd=project, env=env)
        assert "run `nbops sync`" in status.stdout

        server.start()  # same port, same database
        first = _nbops_cli("sync", cwd=project, env=env)
        assert first.returncode == 0, first.stderr
        second = _nbops_cli("sync", cwd=project, env=env)
        assert second.returncode == 0, second.stderr
        assert "shipped 0 event(s)" in second.stdout

        from mlflow import MlflowClient

        client = MlflowClient(server.url)
        exp = client.get_experiment_by_name("proj")
        (run,) = client.search_runs([exp.experiment_id], "attributes.run_name = 'drill'")
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "x")
        assert sorted(m.step for m in history) == list(range(600))  # each point exactly once
    finally:
        server.stop()


def test_killed_kernel_run_is_reaped_as_failed_keeping_spooled_points(project, client):
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(project))
    try:
        kc.execute_interactive("%load_ext nbops", timeout=60)
        kc.execute("%%track doomed\nimport nbops, time\nfor i in range(50):\n"
                   "    nbops.log(v=float(i))\ntime.sleep(600)")
        spool = Spool(load_settings(project).home)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = spool._db().execute(
                "SELECT payload FROM events e JOIN runs r ON r.uid = e.run_uid "
                "WHERE r.name = 'doomed' AND e.kind = 'metrics'").fetchall()
            if sum(row[0].count('"v"') for row in rows) >= 50:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the kernel never spooled its points")
    finally:
        os.kill(km.provisioner.process.pid, signal.SIGKILL)  # no atexit, no flush
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    result = _nbops_cli("sync", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "marked FAILED" in result.stdout
    runs = [r for e in client.search_experiments()
            for r in client.search_runs([e.experiment_id]) if r.info.run_name == "doomed"]
    (run,) = runs
    assert run.info.status == "FAILED"
    assert "ended without closing the run" in run.data.tags["nbops.end_reason"]
    assert len(client.get_metric_history(run.info.run_id, "v")) == 50


WRITER = """
import nbops
for r in range(5):
    with nbops.track(f"{TAG}-{r}") as run:
        for i in range(200):
            nbops.log(m=float(i), step=i)
"""


def test_two_processes_write_one_embedded_store_and_lose_nothing(project, client):
    procs = [subprocess.Popen([sys.executable, "-c", f"TAG = {tag!r}\n" + WRITER], cwd=project,
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    for p in procs:
        assert p.wait(180) == 0, p.stderr.read()
    run_python("import subprocess", cwd=project)  # nothing; keeps the processes apart in time
    sync = _nbops_cli("sync", cwd=project)  # ships anything a lock kept back at exit
    assert sync.returncode == 0, sync.stderr
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    names = sorted(r.info.run_name for r in runs)
    assert names == sorted(f"{t}-{i}" for t in "ab" for i in range(5))
    for r in runs:
        assert r.info.status == "FINISHED"
        assert sorted(m.step for m in client.get_metric_history(r.info.run_id, "m")) == list(
            range(200))


OPEN_SPOOL = ("import sys; from pathlib import Path; from nbops.tracking.spool import Spool; "
              "s = Spool(Path(sys.argv[1])); s.register_owner(); s.append([], [])")


def test_processes_creating_one_spool_at_once_all_succeed(tmp_path):
    """Regression: switching a new spool to WAL mode raced ("database is locked")."""
    for round_ in range(4):
        home = tmp_path / f"home{round_}"
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_SPOOL, str(home)],
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        for p in procs:
            assert p.wait(60) == 0, p.stderr.read()
