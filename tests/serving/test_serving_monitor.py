"""Monitoring reads the request log: a real server on loopback answers drifted requests, labels
arrive through its endpoint, then a check over that window (the Python API, and `nbops monitor
--window` in a process of its own) finds the drift and scores the labelled predictions of the
checked version; an empty window is a clear error."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_helpers import FEATURES

import nbops
from nbops.exceptions import MonitoringError, UsageError

COLUMNS = [f"f{j}" for j in range(FEATURES)]


def test_a_window_of_the_request_log_is_the_current_data_of_a_check(start_server, project_dir):
    reference = project_dir / "reference.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(2000, FEATURES)), columns=COLUMNS).to_csv(reference,
                                                                            index=False)
    server = start_server("tiny@prod", canary="challenger=20%")
    since = datetime.now(UTC).isoformat()  # the window: this test's requests, no earlier ones
    hits = total = 0
    with httpx.Client(base_url=server.url) as http:
        for i in range(60):
            rows = rng.normal(size=(10, FEATURES))
            rows[:, :4] += 3.0  # four features drifted
            body = http.post("/nbops/v1/predict", json={"inputs": rows.round(4).tolist()}).json()
            predicted = np.argmax(body["predictions"], axis=1)
            truth = predicted if i % 4 else 1 - predicted  # one request in four mispredicted
            assert http.post("/nbops/v1/label", json={"request_id": body["request_id"],
                                                      "label": truth.tolist()}).status_code == 200
            if body["version"] == "1":  # the checked version's rows: the canary's are not
                hits += int((truth == predicted).sum())
                total += len(truth)

    report = nbops.monitor.run_check("tiny@prod", window=since, reference=str(reference),
                                     rules=["drift.share >= 0.3 -> drift"])
    assert report.status == "drift"
    assert {"f0", "f1", "f2", "f3"} <= set(report.drifted_columns)
    assert report.metrics["accuracy"] == pytest.approx(hits / total)
    assert "performance on labelled rows: accuracy" in report.to_text()
    assert f"f1 (class 1) {report.metrics['f1']:.3f}" in report.to_text()  # which F1 it is

    cli = subprocess.run([sys.executable, "-m", "nbops", "monitor", "tiny@prod", "--window",
                          since, "--reference", str(reference), "--fail-on", "drift"],
                         cwd=project_dir, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1, cli.stderr  # the status is one of --fail-on
    assert "tiny/1: status DRIFT" in cli.stdout and "accuracy" in cli.stdout


def test_an_empty_window_names_the_model_the_window_and_the_log_folder(start_server,
                                                                        project_dir):
    server = start_server("tiny@prod")
    httpx.post(f"{server.url}/invocations", json={"inputs": [[0.0] * FEATURES]})
    time.sleep(1.5)  # that request is now older than the window
    with pytest.raises(MonitoringError) as err:
        nbops.monitor.run_check("tiny@prod", window="1s")
    message = str(err.value)
    assert "'tiny'" in message and "'1s'" in message
    assert str(project_dir / ".nbops" / "serving" / "tiny") in message
    assert "Send traffic" in message and "widen the window (`--window 24h`" in message
    cli = subprocess.run([sys.executable, "-m", "nbops", "monitor", "tiny@prod", "--window", "1s"],
                         cwd=project_dir, capture_output=True, text=True, timeout=300)
    assert cli.returncode != 0 and "Traceback" not in cli.stderr
    assert "--window 24h" in " ".join(cli.stderr.split()), cli.stderr
    with pytest.raises(UsageError, match="not neither"):
        nbops.monitor.run_check("tiny@prod")


def test_a_version_that_answered_nothing_in_the_window_is_an_error_not_an_ok(start_server,
                                                                           project_dir):
    server = start_server("tiny@prod")  # version 1 answers; the challenger (2) gets nothing
    since = datetime.now(UTC).isoformat()
    rows = np.random.default_rng(1).normal(size=(5, FEATURES)).round(4).tolist()
    for _ in range(3):
        assert httpx.post(f"{server.url}/nbops/v1/predict", json={"inputs": rows}).status_code \
            == 200
    with pytest.raises(MonitoringError) as err:
        nbops.monitor.run_check("tiny@challenger", window=since)
    message = " ".join(str(err.value).split())
    assert f"Version 2 of model 'tiny' answered no request in the window {since!r}" in message
    assert "the log holds only version 1 (3 requests)" in message
    assert "--canary ALIAS=10%" in message and "`--window 24h`" in message
    reference = project_dir / "reference-idle.csv"
    pd.DataFrame(rows, columns=COLUMNS).to_csv(reference, index=False)
    report = nbops.monitor.run_check("tiny@prod", window=since, reference=str(reference))
    assert report.model == "tiny/1"
