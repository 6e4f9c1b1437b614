"""A small registry for the server and browser tests: two models, runs with notebook snapshots,
audited aliases and a drift status. Imported by tests/server and tests/ui (not a test module)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbops.store import Store

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {},
         "source": ["# Training churn model\n"]},
        {"cell_type": "code", "execution_count": 1, "id": "train", "metadata": {},
         "outputs": [{"name": "stdout", "output_type": "stream", "text": ["accuracy 0.91\n"]}],
         "source": ["%time print('accuracy', 0.91)"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


HISTORY_SOURCE = "get_ipython().run_line_magic('time', \"print('accuracy', 0.91)\")"


@dataclass
class Seeded:
    train_runs: list[str]
    monitor_run: str
    bare_run: str


def _notebook_run(client: Any, exp: str, name: str, params: dict, metrics: dict,
                  workdir: Path, title: str) -> str:
    run = client.create_run(exp, run_name=name, tags={"nbops.notebook_path": f"{name}.ipynb"})
    rid = run.info.run_id
    for k, v in params.items():
        client.log_param(rid, k, v)
    for k, v in metrics.items():
        client.log_metric(rid, k, v)
    nb = json.loads(json.dumps(NOTEBOOK))
    nb["cells"][0]["source"] = [f"# {title}\n"]
    folder = workdir / rid / "notebook"
    folder.mkdir(parents=True)
    (folder / f"{name}.ipynb").write_text(json.dumps(nb))  # as saved: the source the user typed
    nb["cells"][1]["source"] = [HISTORY_SOURCE]  # as IPython ran it
    (folder / "history.ipynb").write_text(json.dumps(nb))
    client.log_artifacts(rid, str(folder), "notebook")
    client.set_terminated(rid)
    return rid


def seed_registry(client: Any, workdir: Path) -> Seeded:
    """Models ``churn`` (v1..v3, champion v1→v2 audited, challenger v3, drift on v2) and
    ``fraud`` (v1, status ok), plus ``empty-model`` with no versions."""
    from nbops.monitoring.status import set_status
    from nbops.registry import api

    exp = client.create_experiment("demo")
    r1 = _notebook_run(client, exp, "train", {"lr": "0.1", "depth": "4"},
                       {"accuracy": 0.91, "loss": 0.2}, workdir, "Training churn v1")
    r2 = _notebook_run(client, exp, "train", {"lr": "0.05", "depth": "4"},
                       {"accuracy": 0.93, "loss": 0.17}, workdir, "Training churn v2")
    mon = _notebook_run(client, exp, "monitor", {"window": "7d"}, {"drift_share": 0.4},
                        workdir, "Monitoring churn")
    bare = client.create_run(exp, run_name="bare").info.run_id
    client.create_registered_model("churn", description="Churn classifier")
    for rid in (r1, r2, r2):
        client.create_model_version("churn", f"runs:/{rid}/model", run_id=rid)
    client.create_registered_model("fraud")
    client.create_model_version("fraud", f"runs:/{r1}/model", run_id=r1)
    client.create_registered_model("empty-model")
    api.set_alias("churn", "champion", "1", reason="first model", store=Store(client.tracking_uri))
    api.set_alias("churn", "champion", "2", reason="better accuracy", store=Store(client.tracking_uri))
    api.set_alias("churn", "challenger", "3", store=Store(client.tracking_uri))
    set_status(Store(client.tracking_uri), "churn", "2", "drift", report_run_id=mon)
    set_status(Store(client.tracking_uri), "fraud", "1", "ok")
    return Seeded(train_runs=[r1, r2], monitor_run=mon, bare_run=bare)


def error_of(exc: Any) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a tornado HTTPClientError."""
    return exc.code, json.loads(exc.response.body)
