"""A store that accepts connections and never answers, or a port nobody listens on: every request
gets a 503 within the configured bound, and the Jupyter server still exits promptly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_seed import error_of
from tornado.httpclient import HTTPClientError


@pytest.fixture()
def silent_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


@pytest.fixture()
def jp_server_config(silent_port: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # MLflow's own defaults (120 s timeout, 7 retries): only nbops' bound answers in time
    monkeypatch.setenv("NBOPS_TRACKING_URI", f"http://127.0.0.1:{silent_port}")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    return {"ServerApp": {"jpserver_extensions": {"nbops.server": True},
                          "allow_unauthenticated_access": False},
            "NbopsServer": {"store_timeout": 2.0, "workers": 2}}


async def test_hung_store_answers_503_at_the_configured_bound(jp_fetch):
    # more requests than threads: the queued ones are bounded too
    for _ in range(3):
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch("nbops", "api", "models")
        code, body = error_of(e.value)
        assert (code, body["reason"]) == (503, "store_unavailable")
        assert "did not answer within 2 s" in body["message"]
        assert "MLFLOW_TRACKING_URI" in body["message"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def mute_http_port() -> Iterator[int]:
    """A loopback server that accepts every connection, reads the request and never answers."""
    held: list[socket.socket] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        server.settimeout(0.2)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                conn.settimeout(0.2)
                try:
                    conn.recv(65536)  # the request line and headers; no answer ever comes
                except TimeoutError:
                    pass
                held.append(conn)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield server.getsockname()[1]
        stop.set()
        thread.join()
        for conn in held:
            conn.close()


@pytest.fixture(params=["mute-http-server", "dead-port"])
def down_store(request: pytest.FixtureRequest) -> str:
    if request.param == "dead-port":  # refused at once; MLflow retries 7 times with backoff
        return f"http://127.0.0.1:{_free_port()}"
    return f"http://127.0.0.1:{request.getfixturevalue('mute_http_port')}"


def test_jupyter_server_exits_promptly_with_the_store_down(tmp_path: Path, down_store: str):
    """SIGTERM while API calls hang on the store: the server exits, no thread holds it."""
    port, token = _free_port(), "exit-test-token"
    env = {**os.environ, "NBOPS_TRACKING_URI": down_store,
           "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    for var in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        env.pop(var, None)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'exit'\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         "--allow-root", "--ServerApp.jpserver_extensions={'nbops.server': True}",
         "--NbopsServer.store_timeout=1"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "jupyter server did not start"
                time.sleep(0.3)
        for _ in range(6):  # more hung calls than store threads
            try:
                urllib.request.urlopen(f"{base}/nbops/api/models?token={token}", timeout=10)
            except urllib.error.HTTPError as e:
                assert e.code == 503
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)  # raises TimeoutExpired when a store thread holds the exit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None


async def test_stopping_the_extension_closes_its_pool(jp_fetch, jp_serverapp):
    """The server's shutdown hook: queued store calls are cancelled, new requests get a 503
    saying the server is shutting down, and no call is waited for."""
    import asyncio

    state = jp_serverapp.web_app.settings["nbops_state"]
    hung = [state.pool.submit(lambda: time.sleep(30)) for _ in range(4)]  # more than workers
    manager = jp_serverapp.extension_manager
    await asyncio.wait_for(manager.stop_extension("nbops.server",
                                                  manager.extension_apps["nbops.server"]), 2)
    assert any(f.cancelled() for f in hung), "queued calls should be cancelled"
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", "models")
    code, body = error_of(e.value)
    assert (code, body["reason"]) == (503, "store_unavailable")
    assert "shutting down" in body["message"]
