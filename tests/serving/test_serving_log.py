"""The request log of real server processes: every answered request is there with its features,
prediction and version, labels join by request id, monitoring reads a time window of it, and a
server killed with SIGKILL loses nothing it acknowledged."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_helpers import FEATURES

import nbops
from nbops.exceptions import NotFoundError, UsageError
from nbops.serving.reqlog import LogWriter, log_dir, read_records


def _rows(n: int, seed: int) -> list[list[float]]:
    return np.random.default_rng(seed).normal(size=(n, FEATURES)).round(4).tolist()


def test_requests_and_labels_are_logged_and_monitoring_reads_them(start_server):
    server = start_server("tiny@prod")
    since = time.time()
    rows = _rows(40, 0)
    ids = []
    with httpx.Client(base_url=server.url) as http:
        for i, row in enumerate(rows):
            resp = http.post("/nbops/v1/predict", json={"inputs": [row]})
            ids.append(resp.json()["request_id"])
            truth = int(np.argmax(resp.json()["predictions"][0])) if i % 4 else 1 - int(
                np.argmax(resp.json()["predictions"][0]))
            if i % 2:
                assert nbops.serve.label(ids[-1], truth, model="tiny") is True
            else:
                ok = http.post("/nbops/v1/label", json={"request_id": ids[-1], "label": truth})
                assert ok.json() == {"request_id": ids[-1], "status": "recorded",
                                     "matched": True}
        unseen = http.post("/nbops/v1/label", json={"request_id": "no-such-id", "label": 1})
        assert unseen.status_code == 200  # kept (joined if it is ever logged), and said so
        assert unseen.json() == {"request_id": "no-such-id", "status": "recorded",
                                 "matched": False}
        bad = http.post("/nbops/v1/label", json={"label": 1})
        assert bad.status_code == 400 and "request_id" in bad.json()["message"]
        assert http.post("/invocations", json={"inputs": [[1]]}).status_code == 400
    frame = nbops.serve.read_log("tiny@prod", since=since)
    assert frame["request_id"].tolist() == ids  # failed requests are left out, order kept
    assert set(frame["version"]) == {"1"} and set(frame["route"]) == {"primary"}
    np.testing.assert_allclose(frame[[f"f{j}" for j in range(FEATURES)]].to_numpy(), rows,
                               atol=1e-6)
    assert frame["label"].notna().all()
    accuracy = float((frame["label"] == frame["prediction"]).mean())
    assert accuracy == pytest.approx(0.75)
    assert (frame["latency_ms"] > 0).all() and str(frame["time"].dt.tz) == "UTC"
    assert nbops.serve.read_log("tiny", since="1s", until=since - 60).empty

    batch = httpx.post(f"{server.url}/nbops/v1/predict", json={"inputs": _rows(3, 2)}).json()
    nbops.serve.label(batch["request_id"], [0, 1, 1], model="tiny")
    rows = nbops.serve.read_log("tiny", since=since).query("request_id == @batch['request_id']")
    assert rows["row"].tolist() == [0, 1, 2] and rows["label"].tolist() == [0, 1, 1]

    reference = pd.DataFrame(_rows(400, 1), columns=[f"f{j}" for j in range(FEATURES)])
    report = nbops.monitor.run_check("tiny@prod", frame.drop(columns=["scores"]),
                                     reference=reference, label_column="label",
                                     prediction_column="prediction")
    assert report.metrics["accuracy"] == pytest.approx(0.75)
    server.stop()  # the spools are sealed into segments, where a late label finds its request
    assert not list((log_dir("tiny") / "spool").glob("*.jsonl"))
    assert nbops.serve.label(ids[0], 1, model="tiny") is True
    assert nbops.serve.label("no-such-id", 1, model="tiny") is False
    with pytest.raises(NotFoundError, match="nbops serve nope@ALIAS"):
        nbops.serve.read_log("nope")
    with pytest.raises(UsageError, match="duration"):
        nbops.serve.read_log("tiny", since="yesterday")


def test_kill_9_loses_no_acknowledged_request(start_server, project_dir):
    server = start_server("tiny@prod", poll=0)
    acknowledged: list[str] = []

    def client(worker: int) -> None:
        with httpx.Client(base_url=server.url) as http:
            for i in range(10_000):
                try:
                    resp = http.post("/invocations", json={"inputs": [[float(i)] * FEATURES]},
                                     headers={"X-Request-Id": f"kill-{worker}-{i}"})
                except httpx.TransportError:
                    return  # the server is gone
                if resp.status_code == 200:
                    acknowledged.append(resp.headers["x-request-id"])

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client, w) for w in range(4)]
        time.sleep(3)
        os.killpg(server.pid, signal.SIGKILL)
        for f in futures:
            f.result()
    server.process.wait(10)
    assert len(acknowledged) > 100
    logged = {r["request_id"] for r in read_records(project_dir / ".nbops" / "serving" / "tiny")}
    assert set(acknowledged) <= logged
    # the dead server's spool was sealed by the reader; no spool of its pid is left
    spools = list((project_dir / ".nbops" / "serving" / "tiny" / "spool").glob(
        f"{server.pid}-*.jsonl"))
    assert spools == []


def test_a_torn_last_line_is_skipped_and_sealing_keeps_every_record(tmp_path):
    writer = LogWriter(tmp_path)
    for i in range(5):
        writer.append({"request_id": f"r{i}", "time": 1.0 * i, "model": "m", "version": "1",
                       "route": "primary", "status": 200, "latency_ms": 0.1, "inputs": "[]",
                       "outputs": "[]", "error": ""})
    path = writer.path
    with open(path, "ab") as handle:
        handle.write(b'{"request_id": "torn", "ti')  # a crash in the middle of a write
    assert [r["request_id"] for r in read_records(tmp_path)] == [f"r{i}" for i in range(5)]
    writer.close()
    assert not path.exists()
    assert [r["request_id"] for r in read_records(tmp_path)] == [f"r{i}" for i in range(5)]
    assert len(list((tmp_path / "segments").glob("*.parquet"))) == 1
