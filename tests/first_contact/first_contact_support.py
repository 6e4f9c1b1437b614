"""Helpers of the first-contact suites: a fresh project folder, real processes and kernels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

CLEAN_ENV = ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME", "NBOPS_EXPERIMENT",
             "NBOPS_NO_CAPTURE", "NBOPS_PARENT_RUN_ID", "NBOPS_NOTEBOOK_PATH",
             "NBOPS_FLUSH_TIMEOUT")


def env_without_nbops(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env.update(extra)
    return env


def nbops_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbops", *args], cwd=cwd, env=env or env_without_nbops(),
                          capture_output=True, text=True, timeout=timeout)


def runs_in(uri: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    return [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]


def artifacts_of(uri: str, run_id: str) -> set[str]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    out: set[str] = set()
    todo = [None]
    while todo:
        for item in client.list_artifacts(run_id, todo.pop()):
            (todo.append(item.path) if item.is_dir else out.add(item.path))
    return out


def embedded_uri(root: Path) -> str:
    return f"sqlite:///{root / '.nbops' / 'mlflow.db'}"


def tiny_notebook(path: Path, track_line: str = "%%track") -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext nbops"),
        nbformat.v4.new_code_cell(f"{track_line}\nimport nbops\nnbops.log(m=1.0)"),
        nbformat.v4.new_code_cell("import time; time.sleep(0.5)"),
    ]
    nbformat.write(nb, path)


def kernel(cwd: Path, env: dict[str, str]):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(cwd), env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc


def run_in_kernel(kc, code: str, timeout: float = 120) -> str:
    out: list[str] = []

    def hook(msg: dict) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            out.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            out.append(content["data"].get("text/plain", ""))
        elif msg["msg_type"] == "error":
            out.append("ERROR " + content["ename"] + ": " + content["evalue"])

    kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return "".join(out)


