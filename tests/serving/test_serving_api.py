"""The HTTP API of a real server process on loopback: MLflow's request formats, nbops' routes,
bad requests answered with the field that was wrong while the server keeps serving."""

from __future__ import annotations

import subprocess
import sys

import httpx
import numpy as np
import pytest
from serving_helpers import FEATURES, make_model

from nbops.serving.spec import InputSpec, RequestError, TensorInput

ROWS = [[0.1 * i + j for i in range(FEATURES)] for j in range(3)]


def expected(seed: int, rows=ROWS) -> np.ndarray:
    import torch

    with torch.no_grad():
        return make_model(seed)(torch.tensor(rows, dtype=torch.float32)).numpy()


def test_mlflow_formats_and_nbops_routes(start_server):
    server = start_server("tiny@prod")
    columns = [f"c{i}" for i in range(FEATURES)]
    bodies = {
        "inputs": {"inputs": ROWS},
        "instances": {"instances": ROWS},
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": ROWS}},
        "dataframe_records": {"dataframe_records": [dict(zip(columns, r, strict=True))
                                                    for r in ROWS]},
    }
    with httpx.Client(base_url=server.url) as http:
        for form, body in bodies.items():
            resp = http.post("/invocations", json=body)
            assert resp.status_code == 200, (form, resp.text)
            np.testing.assert_allclose(resp.json()["predictions"], expected(0), atol=1e-5)
            assert len(resp.headers["x-request-id"]) == 32
            assert resp.headers["x-nbops-version"] == "1"
        assert http.get("/ping").status_code == 200
        assert http.get("/health").status_code == 200
        import mlflow

        assert http.get("/version").text == mlflow.__version__
        mine = http.post("/nbops/v1/predict", json={"inputs": ROWS[:1]},
                         headers={"X-Request-Id": "req-42"}).json()
        assert mine["request_id"] == "req-42"
        assert (mine["model"], mine["version"], mine["route"]) == ("tiny", "1", "primary")
        status = http.get("/nbops/v1/status").json()
        assert status["routes"]["primary"]["package"] == "tiny-onnx/1"
        assert status["routes"]["primary"]["flavor"] == "onnx"


def test_bad_requests_name_the_field_and_the_server_keeps_serving(start_server):
    server = start_server("tiny@prod")
    bad = [
        (b'{"inputs": [[1, 2', "body", "not valid JSON"),
        (b'[1, 2]', "body", "JSON object"),
        (b'{"rows": [[1]]}', "body", "exactly one of the keys"),
        (b'{"inputs": [[1, 2, 3]]}', "inputs", "expected 8 values per row"),
        (b'{"inputs": [1, 2, 3, 4, 5, 6, 7, 8]}', "inputs", "wrap one example in a list"),
        (b'{"inputs": [[1, 2, 3, 4, 5, 6, 7, "x"]]}', "inputs[0][7]", "expected a number"),
        (b'{"inputs": [[1, 2, 3, 4, 5, 6, 7, 8], [1, 2]]}', "inputs[1]", "same length"),
        (b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}',
         "dataframe_split.columns", "expected 8 columns"),
        (b'{"inputs": {"other": [[1]]}}', "inputs.input", "missing"),
    ]
    with httpx.Client(base_url=server.url) as http:
        for body, field, words in bad:
            resp = http.post("/invocations", content=body,
                             headers={"content-type": "application/json"})
            assert resp.status_code == 400, (body, resp.text)
            error = resp.json()
            assert error["error_code"] == "BAD_REQUEST"
            assert error["field"] == field, (body, error)
            assert words in error["message"], (body, error)
        huge = b'{"inputs": [' + b",".join([b"[0,0,0,0,0,0,0,0]"] * 600_000) + b"]}"
        resp = http.post("/invocations", content=huge)
        assert resp.status_code == 413 and "over the limit" in resp.json()["message"]
        assert http.post("/nbops/v1/nope", json={}).status_code == 404
        ok = http.post("/invocations", json={"inputs": ROWS})
        assert ok.status_code == 200
        np.testing.assert_allclose(ok.json()["predictions"], expected(0), atol=1e-5)


def test_version_without_onnx_package_is_served_through_its_pyfunc(start_server):
    server = start_server("tiny@raw")
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/nbops/v1/status").json()["routes"]["primary"]["flavor"] == "pyfunc"
        resp = http.post("/invocations", json={"inputs": ROWS})
        assert resp.status_code == 200, resp.text
        np.testing.assert_allclose(resp.json()["predictions"], expected(2), atol=1e-5)
        assert http.post("/invocations", json={"inputs": [[1.0]]}).status_code == 400
    assert "no ONNX package" in server.output() and "nbops package tiny/3" in server.output()


def test_unknown_alias_fails_at_start_with_the_known_aliases(project_dir):
    result = subprocess.run([sys.executable, "-m", "nbops", "serve", "tiny@prdo", "--port", "0"],
                            capture_output=True, text=True, timeout=120, cwd=project_dir)
    assert result.returncode == 2
    assert "no alias 'prdo'" in result.stderr and "'prod'" in result.stderr
    bad = subprocess.run([sys.executable, "-m", "nbops", "serve", "tiny@prod", "--canary",
                          "challenger=200%"], capture_output=True, text=True, timeout=120,
                         cwd=project_dir)
    assert bad.returncode == 2 and "ALIAS=PERCENT" in bad.stderr


def test_input_spec_checks_without_a_server():
    spec = InputSpec((TensorInput("x", np.dtype("float32"), (-1, 2)),
                      TensorInput("mask", np.dtype("int64"), (-1, 2))))
    feeds = spec.parse({"inputs": {"x": [[1, 2]], "mask": [[1, 0]]}})
    assert feeds["x"].dtype == np.float32 and feeds["mask"].dtype == np.int64
    with pytest.raises(RequestError, match=r"inputs\.mask: missing"):
        spec.parse({"inputs": {"x": [[1, 2]]}})
    with pytest.raises(RequestError, match="named inputs"):
        spec.parse({"inputs": [[1, 2]]})
    named = InputSpec((TensorInput("input", np.dtype("float64"), (-1, 2)),), ("age", "income"))
    rows = named.parse({"dataframe_split": {"columns": ["income", "age"], "data": [[5, 1]]}})
    assert rows["input"].tolist() == [[1.0, 5.0]]
    with pytest.raises(RequestError) as err:
        named.parse({"dataframe_records": [{"age": 1}]})
    assert err.value.field == "dataframe_records[0]" and "'income'" in str(err.value)
