"""The gate on shadow traffic, and a running server following the promotion: a real
``nbops serve churn@champion --shadow challenger`` process on loopback, real requests, the
gate reading the request log, the alias move picked up by the server."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gate_support import window

import nbops
from nbops import registry
from nbops.workflows import gate

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")


def _shadow_log(ids: list[str], deadline: float):
    log = nbops.serve.read_log("churn", routes=("shadow",))
    while (log.empty or set(log["request_id"]) < set(ids)) and time.time() < deadline:
        time.sleep(0.2)
        log = nbops.serve.read_log("churn", routes=("shadow",))
    return log


def test_gate_compares_shadow_traffic_and_the_server_follows_the_promotion(models, project):
    server = nbops.serve("churn@champion", shadow="challenger", poll=0.5)
    try:
        server.wait(180)
        served = window(0, n=60, seed=3)
        features = served[["a", "b", "c", "d"]].to_numpy()
        ids = []
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for row in features:
                body = http.post("/nbops/v1/predict", json={"inputs": [row.tolist()]}).json()
                assert (body["version"], body["route"]) == ("1", "primary")
                ids.append(body["request_id"])
            assert set(_shadow_log(ids, time.time() + 30)["request_id"]) >= set(ids)

            result = gate("churn", data=models.better, label_column="y",
                          criteria=["accuracy >= champion + 0.1", "shadow_agreement >= 0.2",
                                    "shadow_p99_ms <= 60000"])
            # the challenger reads feature 0 and the champion feature 1: they agree where the
            # signs agree, on these very requests
            expected = float(np.mean((features[:, 0] > 0) == (features[:, 1] > 0)))
            assert result.shadow_requests == len(ids)
            assert result.challenger.metrics["shadow_agreement"] == pytest.approx(expected)
            assert result.champion.metrics["shadow_p99_ms"] > 0
            assert [r.passed for r in result.rows] == [True, True, True]
            assert result.decision == "promoted"
            assert f"shadow traffic: {len(ids)} served requests compared" in result.report_html
            assert registry.resolve("churn@champion").version == "2"

            deadline = time.time() + 15  # the server polls the alias every 0.5 s
            version = "1"
            while version != "2" and time.time() < deadline:
                time.sleep(0.2)
                version = http.post("/nbops/v1/predict",
                                    json={"inputs": [features[0].tolist()]}).json()["version"]
            assert version == "2", server.output()
    finally:
        server.stop()
