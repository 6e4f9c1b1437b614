"""`nbops serve` as a user types it: a busy port or an unknown model is one clear error, and the
"serving ..." banner is printed only once the model and the port have been checked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

CLEAN = ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME")


def _serve(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    return subprocess.run([sys.executable, "-m", "nbops", "serve", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=180)


def test_a_busy_port_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _serve(tmp_path, "churn@prod", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert f"Cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "choose another port with --port N" in done.stderr
    assert "serving churn@prod" not in done.stdout


def test_an_unknown_model_fails_before_the_banner(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = _serve(tmp_path, "nosuch@prod", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert "nosuch" in done.stderr and "Traceback" not in done.stderr
    assert "serving nosuch@prod" not in done.stdout


def test_a_canary_percent_out_of_range_names_the_range(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    done = _serve(tmp_path, "churn@prod", "--canary", "challenger=150%")
    assert done.returncode == 2, done.stderr
    assert "PERCENT from 0 to 100" in done.stderr
    assert "'challenger=150%'" in done.stderr
