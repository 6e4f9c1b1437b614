"""A monitoring check end to end: reference stored with a registered version, a monitoring run,
the status tag on the version, and a webhook alert received by a local HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pandas as pd
import pytest

from nbops.exceptions import MonitoringError
from nbops.monitoring.model_check import store_reference
from nbops.tracking.run import track
from nbops.workflows.monitor import run_check


def _frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.normal(0, 1, n),
                         "color": rng.choice(["red", "blue"], n)})


def _register(client, run_id: str, name: str = "churn") -> str:
    client.create_registered_model(name)
    return client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id).version


@pytest.fixture()
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alert", received
    server.shutdown()


def test_drifted_data_sets_status_logs_a_report_and_alerts(tracker, client, webhook):
    url, received = webhook
    with track("train", tracker=tracker) as run:
        store_reference(run, _frame(3000))
    assert run.wait(60)
    version = _register(client, run.mlflow_run_id)
    client.set_registered_model_alias("churn", "prod", version)

    report = run_check("churn@prod", _frame(3000, shift=1.5, seed=1), webhook=url,
                       rules=["drift.share >= 0.3 -> drift"])
    assert report.status == "drift"
    assert report.drifted_columns == ["a"]
    mv = client.get_model_version("churn", version)
    assert mv.tags["nbops.monitor.status"] == "drift"
    assert mv.tags["nbops.monitor.report_run"] == report.run_id
    monitor_run = client.get_run(report.run_id)
    assert monitor_run.data.tags["nbops.monitor.model"] == "churn/1"
    assert monitor_run.data.metrics["drift.share"] == pytest.approx(1 / 3)
    assert 0 <= monitor_run.data.metrics["staleness.model_age_days"] < 0.01  # just registered
    assert 0 <= monitor_run.data.metrics["staleness.data_age_days"] < 0.01
    arts = {a.path for a in client.list_artifacts(report.run_id, "monitoring")}
    assert {"monitoring/drift_report.html", "monitoring/result.json"} <= arts
    assert received and received[0]["status"] == "drift" and received[0]["model"] == "churn/1"


def test_undrifted_data_is_ok_and_sends_no_alert(tracker, client, webhook):
    url, received = webhook
    with track("train", tracker=tracker) as run:
        store_reference(run, _frame(3000))
    assert run.wait(60)
    _register(client, run.mlflow_run_id)
    report = run_check("churn/1", _frame(3000, seed=2), webhook=url)
    assert report.status == "ok", report.to_text()
    assert received == []


def test_missing_column_is_a_finding_not_a_crash(tracker, client):
    with track("train", tracker=tracker) as run:
        store_reference(run, _frame(2000))
    assert run.wait(60)
    _register(client, run.mlflow_run_id)
    report = run_check("churn/1", _frame(2000, seed=3).drop(columns=["b"]))
    assert report.status == "error"
    assert any(f["code"] == "missing_column" and f["column"] == "b" for f in report.findings)


def test_version_without_reference_says_what_to_do(tracker, client):
    with track("train", tracker=tracker) as run:
        pass
    assert run.wait(60)
    _register(client, run.mlflow_run_id)
    with pytest.raises(MonitoringError, match="--reference"):
        run_check("churn/1", _frame(100))


def test_accuracy_drop_against_the_training_baseline_warns(tracker, client):
    with track("train", tracker=tracker) as run:
        store_reference(run, _frame(2000))
        run.log_metrics({"accuracy": 0.95})
    assert run.wait(60)
    _register(client, run.mlflow_run_id)
    current = _frame(2000, seed=4)
    rng = np.random.default_rng(5)
    current["label"] = rng.integers(0, 2, len(current))
    current["prediction"] = np.where(rng.random(len(current)) < 0.7, current["label"],
                                     1 - current["label"])  # about 70 % right
    report = run_check("churn/1", current, label_column="label", prediction_column="prediction",
                       rules=["accuracy drops by > 5 points -> warning"])
    assert report.status == "warning", report.to_text()
    assert report.metrics["accuracy"] == pytest.approx(0.7, abs=0.05)
    assert report.fired[0]["baseline"] == pytest.approx(0.95)


def test_fail_on_raises_after_recording_everything(tracker, client):
    from nbops.exceptions import UsageError

    with track("train", tracker=tracker) as run:
        store_reference(run, _frame(3000))
    assert run.wait(60)
    version = _register(client, run.mlflow_run_id)
    with pytest.raises(MonitoringError, match="status of churn/1 is 'drift'"):
        run_check("churn/1", _frame(3000, shift=1.5, seed=1), fail_on=["drift"],
                  rules=["drift.share >= 0.3 -> drift"])
    assert client.get_model_version("churn", version).tags["nbops.monitor.status"] == "drift"
    with pytest.raises(UsageError, match="unknown status"):
        run_check("churn/1", _frame(10), fail_on=["drifted"])


def test_reading_the_reference_draws_no_progress_bar(tracker, client, capfd, monkeypatch,
                                                     tmp_path):
    """MLflow draws a "Downloading artifacts" bar for every download unless told not to: nbops'
    own downloads are quiet, and the user's environment is left as it was."""
    import os

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    with track("train", tracker=tracker) as run:
        store_reference(run, _frame(500))
    assert run.wait(60)
    _register(client, run.mlflow_run_id)
    capfd.readouterr()
    report = run_check("churn/1", _frame(500, seed=2))
    assert report.run_id and report.drifted_columns is not None  # the stored reference was read
    assert "Downloading artifacts" not in capfd.readouterr().err
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
    # MLflow itself still draws it: the quiet is nbops' own, for its own calls.
    client.download_artifacts(run.mlflow_run_id, "monitoring/reference_profile.json",
                              str(tmp_path))
    assert "Downloading artifacts" in capfd.readouterr().err
