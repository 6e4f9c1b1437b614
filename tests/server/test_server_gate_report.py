"""GET runs/<id>/gate-report: the HTML report of a gate run, next to the verdict tags the model
view carries; from a seeded store, and from a fresh folder served by a real `jupyter server`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gate_seed import seed_gate
from registry_seed import error_of
from tornado.httpclient import HTTPClientError


async def get(jp_fetch, *parts):
    return json.loads((await jp_fetch("nbops", "api", *parts)).body)


async def status_of(jp_fetch, *parts) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", *parts)
    return error_of(e.value)


async def test_gate_report_of_the_run_the_version_names(jp_fetch, seeded, project):
    run_id = seed_gate(project, "churn", {"3": "rejected"})["3"]
    detail = await get(jp_fetch, "models", "churn")
    v3 = next(v for v in detail["versions"] if v["version"] == "3")
    assert v3["tags"]["nbops.gate.decision"] == "rejected"
    assert v3["tags"]["nbops.gate.run"] == run_id
    report = await get(jp_fetch, "runs", run_id, "gate-report")
    assert (report["run_id"], report["path"]) == (run_id, "gate/report.html")
    assert "<h2>gate churn: rejected</h2>" in report["html"]
    assert "<td>accuracy &gt;= champion + 0.01</td>" in report["html"]
    assert "<script" not in report["html"]


async def test_a_run_without_gate_report_is_404_with_what_to_do(jp_fetch, seeded):
    code, body = await status_of(jp_fetch, "runs", seeded.train_runs[0], "gate-report")
    assert (code, body["reason"]) == (404, "not_found")
    assert "has no gate report (gate/report.html)" in body["message"]
    assert "nbops.gate.run" in body["message"] and "nbops gate" in body["message"]
    code, body = await status_of(jp_fetch, "runs", "f" * 32, "gate-report")
    assert (code, body["reason"]) == (404, "not_found")
    code, body = await status_of(jp_fetch, "runs", "not a run!", "gate-report")
    assert (code, body["reason"]) == (400, "validation")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_from_a_fresh_folder_a_gate_report_is_served(tmp_path: Path):
    """No store: a script gates through nbops (creating the store), then `jupyter server`
    serves the verdict and the report, and stops."""
    root = tmp_path / "fresh"
    root.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME")}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    run_id = seed_gate(root, "fresh-model", {"1": "promoted"}, env=env)["1"]
    assert (root / ".nbops" / "mlflow.db").is_file()
    port, token = _free_port(), "gate-test-token"
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--allow-root"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "jupyter server did not start in 120 s"
                time.sleep(0.5)
        code, detail = _get(f"{base}/nbops/api/models/fresh-model", token)
        assert code == 200, detail
        assert detail["versions"][0]["tags"]["nbops.gate.decision"] == "promoted"
        code, report = _get(f"{base}/nbops/api/runs/{run_id}/gate-report", token)
        assert code == 200, report
        assert "<h2>gate fresh-model: promoted</h2>" in report["html"]
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    assert server.returncode is not None
