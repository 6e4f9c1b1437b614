"""nbops.gate end to end on a real SQLite MLflow store: two real torch models packaged as ONNX,
a window where the challenger is better (promoted, audited) and one where it is worse
(rejected, alias unchanged, alert POSTed to a real loopback webhook)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from gate_support import register, window

from nbops import registry
from nbops.exceptions import UsageError
from nbops.pipeline.guard import history
from nbops.workflows import gate
from nbops.workflows.gate import TAG_DECISION, TAG_RUN


@pytest.fixture()
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


CRITERIA = ["accuracy >= champion + 0.1", "p99_ms <= 1000", "agreement >= 0", "drift: ok, unknown"]


def test_worse_challenger_is_rejected_then_better_one_promoted(models, client, webhook):
    url, received = webhook
    worse = gate("churn", data=models.worse, label_column="y", criteria=CRITERIA, webhook=url)
    assert worse.decision == "rejected" and not worse.passed
    assert (worse.challenger.flavor, worse.champion.flavor) == ("onnx", "onnx")
    assert (worse.challenger.package, worse.champion.package) == ("churn-onnx/2", "churn-onnx/1")
    assert worse.champion.metrics["accuracy"] == 1.0 and worse.challenger.metrics["accuracy"] < 0.7
    assert [r.passed for r in worse.rows] == [False, True, True, True]
    assert registry.resolve("churn@champion").version == "1"  # alias unchanged
    assert received == [{"event": "gate.rejected", "model": "churn", "challenger": "2",
                         "champion": "1", "failed": ["accuracy >= champion + 0.1"],
                         "gate_run": worse.run_id}]
    assert worse.alert == "webhook answered HTTP 200"
    run = client.get_run(worse.run_id)
    assert run.data.tags[TAG_DECISION] == "rejected"
    assert run.data.params["criterion_1"] == "accuracy >= champion + 0.1"
    assert run.data.metrics["champion_accuracy"] == 1.0
    assert {"challenger_p99_ms", "champion_p50_ms", "agreement"} <= set(run.data.metrics)
    report = client.download_artifacts(worse.run_id, "gate/report.html")
    page = open(report, encoding="utf-8").read()
    assert "<td>accuracy &gt;= champion + 0.1</td>" in page and "<script" not in page

    better = gate("churn", data=models.better, label_column="y", criteria=CRITERIA,
                  reason="retrained on the drifted window")
    assert better.decision == "promoted" and better.passed
    assert better.challenger.metrics["accuracy"] == 1.0
    assert registry.resolve("churn@champion").version == "2"
    record = registry.history("churn", alias="champion")[-1]
    assert (record.from_version, record.to_version) == ("1", "2")
    assert record.reason.startswith("retrained on the drifted window; gate passed: accuracy")
    assert better.run_id in record.reason
    assert client.get_run(better.run_id).data.tags[TAG_DECISION] == "promoted"
    tags = client.get_model_version("churn", "2").tags
    assert (tags[TAG_RUN], tags[TAG_DECISION]) == (better.run_id, "promoted")
    assert [(h["decision"], h["run_id"]) for h in history("churn")] == [
        ("rejected", worse.run_id), ("promoted", better.run_id)]


def test_dry_run_and_no_promote_record_without_moving_the_alias(tracker, client):
    models = register(tracker, packaged=False)  # no ONNX package: both run as MLflow pyfunc
    dry = gate("churn", data=models.better, label_column="y", dry_run=True,
               criteria="accuracy >= champion + 0.1")
    assert (dry.decision, dry.passed, dry.challenger.flavor) == ("dry-run", True, "pyfunc")
    kept = gate("churn", data=models.better, label_column="y", promote=False,
                criteria=["accuracy > champion", "drift: drift"])
    assert (kept.decision, kept.passed) == ("rejected", False)  # champion is not drifting
    assert kept.rows[1].champion == "unknown"
    assert registry.resolve("churn@champion").version == "1"
    assert [h["decision"] for h in history("churn")] == ["dry-run", "rejected"]


def test_gate_refuses_bad_inputs_before_any_work(project):
    frame = window(0)
    with pytest.raises(UsageError, match="no label column 'label'.*Its columns: a, b, c, d, y"):
        gate("churn", data=frame, label_column="label", criteria="accuracy >= 0.5")
    with pytest.raises(UsageError, match="'rmse >= 1' needs a regression window"):
        gate("churn", data=frame, label_column="y", criteria="rmse >= 1")
    with pytest.raises(UsageError, match="No data file at"):
        gate("churn", data="missing.csv", label_column="y", criteria="accuracy >= 0.5")
    with pytest.raises(UsageError, match="at least one criterion"):
        gate("churn", data=frame, label_column="y", criteria=[])
    assert history("churn") == []


def test_same_version_on_both_aliases_is_a_usage_error(tracker):
    models = register(tracker, packaged=False)
    registry.set_alias("churn", "challenger", 1, reason="test")
    with pytest.raises(UsageError, match="same version \\(1\\); there is nothing to gate"):
        gate("churn", data=models.better, label_column="y", criteria="accuracy >= 0")


def test_regression_window_uses_rmse(tracker):
    import numpy as np
    import pandas as pd
    import torch

    def reads(feature: int) -> torch.nn.Module:
        net = torch.nn.Linear(4, 1)
        with torch.no_grad():
            net.weight.zero_()
            net.bias.zero_()
            net.weight[0, feature] = 1.0
        return net

    from nbops import log_model
    from nbops.tracking.run import track

    with track("train", tracker=tracker):
        log_model(reads(1), "price", input_example=torch.zeros(1, 4), alias="champion",
                  pip_requirements=["torch"])
        log_model(reads(0), "price", input_example=torch.zeros(1, 4), alias="challenger",
                  pip_requirements=["torch"])
    x = np.random.default_rng(1).standard_normal((300, 4)).astype("float32")
    frame = pd.DataFrame(x, columns=list("abcd")).assign(target=x[:, 0].astype("float64"))
    result = gate("price", data=frame, label_column="target",
                  criteria=["rmse <= champion - 0.5", "agreement <= 0.5"])
    assert (result.task, result.decision) == ("regression", "promoted")
    assert result.challenger.metrics["rmse"] == pytest.approx(0.0, abs=1e-6)
    assert result.champion.metrics["rmse"] > 1.0
    with pytest.raises(UsageError, match="needs a classification window"):
        gate("price", data=frame, label_column="target", criteria="accuracy >= 0.5")


def test_shadow_criteria_without_shadow_traffic_fail_as_such(models, client):
    result = gate("churn", data=models.better, label_column="y",
                  criteria=["accuracy >= champion", "shadow_agreement >= 0.9",
                            "shadow_p99_ms <= 5"])
    assert (result.decision, result.shadow_requests) == ("rejected", 0)
    assert [(r.challenger, r.passed) for r in result.rows[1:]] == [
        ("no shadow traffic", False), ("no shadow traffic", False)]
    assert "no shadow traffic" in result.to_text()
    assert "no shadow traffic: the request log holds no shadow prediction" in result.report_html
    assert registry.resolve("churn@champion").version == "1"
    assert client.get_run(result.run_id).data.params["shadow_requests"] == "0"
