"""First contact for serving and monitoring, from nothing: a fresh folder holding only a
pyproject.toml; a plain script trains a model on its data and registers it; `nbops serve`
(the CLI, a real process) answers drifted requests on loopback and takes their labels; the
scheduled notebook monitor.ipynb, run by the papermill CLI with its ``request_log_window``
parameter, checks what the server answered: drift found, accuracy from the labels, status on
the model version. Every process exits once its work is done."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from nbops_test_support import ROOT

TRAIN = '''
import numpy as np, pandas as pd, torch, nbops

rng = np.random.default_rng(0)
label = rng.integers(0, 2, 2000)
df = pd.DataFrame(rng.normal(size=(2000, 8)) + label[:, None], columns=[f"f{i}" for i in range(8)])
df["label"] = label
with nbops.track("train"):
    nbops.dataset(df, name="train")       # the model's monitoring reference
    x = torch.tensor(df[[f"f{i}" for i in range(8)]].to_numpy(), dtype=torch.float32)
    y = torch.tensor(label)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(50):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        nbops.log(accuracy=(model(x).argmax(1) == y).float().mean().item())
    nbops.log_model(model.eval(), "churn", input_example=x[:1], alias="prod", reason="first")
'''


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("NBOPS_") and k not in ("MLFLOW_TRACKING_URI",
                                                        "MLFLOW_REGISTRY_URI")}


@pytest.mark.slow
def test_from_nothing_serve_label_and_monitor_the_request_log(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text("[project]\nname = 'first-serve'\n")
    (folder / "train.py").write_text(TRAIN)
    env = _env()
    subprocess.run([sys.executable, "train.py"], cwd=folder, env=env, check=True, timeout=300)

    port = str(_free_port())
    log = folder / "serve.out"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "nbops", "serve", "churn@prod",
                                   "--port", port], cwd=folder, env=env,
                                  start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, server, log)
        rng = np.random.default_rng(1)
        hits = total = 0
        with httpx.Client(base_url=url) as http:
            for i in range(30):
                rows = rng.normal(size=(10, 8))
                rows[:, :4] += 3.0  # half the features drifted
                body = http.post("/nbops/v1/predict", json={"inputs": rows.tolist()}).json()
                predicted = np.argmax(body["predictions"], axis=1)
                truth = predicted if i % 4 else 1 - predicted
                http.post("/nbops/v1/label", json={"request_id": body["request_id"],
                                                   "label": truth.tolist()}).raise_for_status()
                hits, total = hits + int((truth == predicted).sum()), total + len(truth)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught
    assert server.returncode in (0, -signal.SIGTERM), log.read_text(errors="replace")
    assert list((folder / ".nbops" / "serving" / "churn" / "segments").glob("*.parquet"))
    assert not list((folder / ".nbops" / "serving" / "churn" / "spool").glob("*.jsonl"))

    shutil.copy(ROOT / "example_notebooks" / "monitor.ipynb", folder / "monitor.ipynb")
    subprocess.run([sys.executable, "-m", "papermill", "monitor.ipynb", "out.ipynb",
                    "-p", "model_uri", "models:/churn@prod", "-p", "request_log_window", "1h",
                    "-k", "python3", "--no-progress-bar"], cwd=folder, env=env, check=True,
                   timeout=600)

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / '.nbops' / 'mlflow.db'}")
    version = client.get_model_version_by_alias("churn", "prod")
    assert version.tags["nbops.monitor.status"] == "drift"
    run = client.get_run(version.tags["nbops.monitor.report_run"])
    assert run.data.metrics["drift.share"] >= 0.5
    assert run.data.metrics["accuracy"] == pytest.approx(hits / total)


def _free_port() -> int:
    from nbops.serving.server import free_port

    return free_port()


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + 180
    while time.time() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"nbops serve did not answer {url}/ping within 180 s")
