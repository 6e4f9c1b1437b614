"""Webhook alerts against a real local HTTP server; status tags on a real model version."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from nbops.exceptions import MonitoringError, NotFoundError, UsageError
from nbops.monitoring import evaluate, post_alert, set_status
from nbops.store import Store


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "type": self.headers["Content-Type"],
                             "json": json.loads(body)})
            code = 500 if self.path == "/fail" else 204
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


def test_webhook_receives_json(webhook):
    url, received = webhook
    status = evaluate(["drift.share > 0.3 -> drift"], {"drift.share": 0.5})
    code = post_alert(url + "/hook", {"model": "churn", **status.to_dict()}, timeout=5)
    assert code == 204
    assert received == [{"path": "/hook", "type": "application/json",
                         "json": {"model": "churn", "status": "drift", "missing": [],
                                  "fired": [{"rule": "drift.share > 0.3 -> drift",
                                             "metric": "drift.share", "value": 0.5,
                                             "baseline": None, "status": "drift"}]}}]


def test_webhook_failures_are_monitoring_errors(webhook):
    url, _ = webhook
    with pytest.raises(MonitoringError, match="HTTP 500"):
        post_alert(url + "/fail", {"x": 1})
    with pytest.raises(UsageError, match="http"):
        post_alert("ftp://example", {})


def test_status_tags_on_a_real_model_version(tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    client.create_registered_model("churn")
    mv = client.create_model_version("churn", source=str(tmp_path / "model"), run_id=None)
    tags = set_status(Store(client.tracking_uri), "churn", mv.version, "drift",
                      report_run_id="abc123")
    got = client.get_model_version("churn", mv.version).tags
    assert got["nbops.monitor.status"] == "drift"
    assert got["nbops.monitor.report_run"] == "abc123"
    assert got["nbops.monitor.checked_at"] == tags["nbops.monitor.checked_at"]
    assert got["nbops.monitor.checked_at"].endswith("+00:00")
    with pytest.raises(UsageError, match="Allowed"):
        set_status(Store(client.tracking_uri), "churn", mv.version, "panic")
    with pytest.raises(NotFoundError, match="does not exist"):
        set_status(Store(client.tracking_uri), "churn", "99", "ok")
