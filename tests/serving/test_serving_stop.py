"""Stopping `nbops serve --shadow` as a terminal or a service manager does (SIGINT / SIGTERM to
its process group): the server and its shadow process exit promptly, the request log of both is
sealed (no spool left), and what the shadow predicted before the stop is in the log."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest
from serving_helpers import FEATURES

import nbops
from nbops.serving.reqlog import log_dir

ROW = [0.5] * FEATURES


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_shadowed_server_stops_promptly_with_its_log_sealed(start_server, sig):
    server = start_server("tiny@prod", shadow="challenger")
    since = time.time()
    with httpx.Client(base_url=server.url) as http:
        shadow_pid = http.get("/nbops/v1/status").json()["shadow"]["pid"]
        ids = {http.post("/nbops/v1/predict", json={"inputs": [ROW]}).json()["request_id"]
               for _ in range(20)}
        deadline = time.monotonic() + 120  # the shadow loads its model at idle CPU priority
        while nbops.serve.read_log("tiny", since=since, routes=("shadow",)).empty:
            assert time.monotonic() < deadline, "the shadow never logged a prediction"
            time.sleep(0.2)
        ids |= {http.post("/nbops/v1/predict", json={"inputs": [ROW]}).json()["request_id"]
                for _ in range(200)}  # copies in flight when the signal comes
    began = time.monotonic()
    os.killpg(server.pid, sig)
    try:
        code = server.process.wait(timeout=10)  # generous: the shadow gets at most 2 s
    except subprocess.TimeoutExpired:
        pytest.fail(f"nbops serve --shadow did not stop within 10 s of {sig.name}:\n"
                    f"{server.output()[-2000:]}")
    print(f"stopped in {time.monotonic() - began:.2f}s after {sig.name}")
    assert code in (0, -sig), server.output()  # uvicorn re-raises the signal it handled
    deadline = time.monotonic() + 5  # the shadow exits with its worker (an orphan is reaped late)
    while os.path.exists(f"/proc/{shadow_pid}") and _state(shadow_pid) not in ("Z", "X"):
        assert time.monotonic() < deadline, "the shadow process outlived its server"
        time.sleep(0.1)
    assert not list((log_dir("tiny") / "spool").glob("*.jsonl"))  # every spool sealed
    port = server.url.rsplit(":", 1)[-1]
    assert not (log_dir("tiny").parent / f"server-{port}.lock").exists()  # no lock file left
    answered = nbops.serve.read_log("tiny", since=since)
    assert set(answered["request_id"]) == ids
    shadow = nbops.serve.read_log("tiny", since=since, routes=("shadow",))
    assert len(shadow) >= 1 and set(shadow["request_id"]) <= ids
    assert set(shadow["version"]) == {"2"}
    assert "Traceback" not in server.output()


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "X"
