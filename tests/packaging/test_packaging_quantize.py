"""Quantization, the int8 gate, benchmarks, the predictor and the orchestrator."""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
import torch

from nbops.exceptions import UsageError
from nbops.packaging import (
    benchmark,
    check_parity,
    choose_variant,
    export,
    load,
    package_onnx,
    quantize,
)


def accuracy(outputs, targets):
    return float((outputs.argmax(1) == targets).mean())


def test_dynamic_int8_is_smaller_and_close(mlp, mlp_onnx, mlp_int8):
    assert mlp_int8.stat().st_size < mlp_onnx.path.stat().st_size / 2
    report = check_parity(mlp, mlp_int8, torch.randn(4, 64), atol=0.1, rtol=0.1)
    assert 0 < report.max_abs_error < 0.1  # int8 changes outputs, a little


def test_static_int8_with_calibration(cnn, tmp_path):
    x = torch.randn(8, 3, 16, 16)
    fp32 = export(cnn, x, path=tmp_path / "cnn.onnx").path
    int8 = quantize(fp32, "static", [x[i : i + 2] for i in range(0, 8, 2)])
    ops = {n.op_type for n in __import__("onnx").load(str(int8)).graph.node}
    assert "QuantizeLinear" in ops  # QDQ format
    out = load(int8).predict(x.numpy())
    assert out.shape == (8, 10) and np.isfinite(out).all()


def test_static_without_calibration_is_a_usage_error(mlp_onnx):
    with pytest.raises(UsageError, match="calibration_inputs"):
        quantize(mlp_onnx.path, "static")


def test_gate_keeps_int8_when_within_budget_and_faster(mlp, mlp_onnx, mlp_int8):
    # Measured, not forced: dynamic int8 MatMul is about 2x fp32 at batch 256 on x86 with VNNI.
    x = torch.randn(512, 64)
    y = mlp(x).argmax(1)
    d = choose_variant(
        mlp,
        mlp_onnx.path,
        mlp_int8,
        eval_data=[(x, y)],
        metric_fn=accuracy,
        budget=0.2,
        batch_size=256,
    )
    assert d.variant == "int8", d.reason
    assert d.speedup > 1 and d.metric_loss <= 0.2
    assert d.reason.startswith("int8 kept")


def test_gate_rejects_int8_over_budget(mlp, mlp_onnx, mlp_int8):
    # The targets are torch's own outputs, so torch scores 0 and any int8 change is a loss.
    x = torch.randn(256, 64)
    y = mlp(x).detach()

    def neg_max_error(outputs, targets):
        return -float(np.abs(outputs - targets).max())

    d = choose_variant(
        mlp,
        mlp_onnx.path,
        mlp_int8,
        eval_data=[(x, y)],
        metric_fn=neg_max_error,
        budget=0.0,
        batch_size=256,
    )
    assert d.variant == "fp32"
    assert d.metric_loss > 0 and "over the budget of 0" in d.reason
    assert d.metrics["torch"] == 0.0 and d.metrics["onnx_int8"] < 0


def test_benchmark_reports_rows_and_settings(mlp, mlp_onnx, mlp_int8):
    table = benchmark(
        mlp,
        {"onnx_fp32": mlp_onnx.path, "onnx_int8": mlp_int8},
        (1, 16),
        example_input=torch.randn(1, 64),
        max_iters=20,
        max_seconds=0.2,
    )
    assert {(r.variant, r.batch_size) for r in table.rows} == {
        (v, b) for v in ("torch", "onnx_fp32", "onnx_int8") for b in (1, 16)
    }
    row = table.row("onnx_fp32", 1)
    assert 0 < row.p50_us <= row.p99_us and row.throughput_rows_s > 0
    session = table.settings["onnxruntime"]["sessions"]["onnx_int8"]
    assert session["providers"] == ["CPUExecutionProvider"]
    assert "intra_op_num_threads" in session and table.settings["torch"]["threads"] >= 1
    assert "| onnx_int8 | 16 |" in table.to_markdown()


def test_predictor_matches_raw_session(mlp_onnx):
    predictor = load(mlp_onnx.path)
    raw = ort.InferenceSession(str(mlp_onnx.path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 64), dtype=np.float32)
    expected = raw.run(None, {"input": x})[0]
    np.testing.assert_array_equal(predictor.predict(x), expected)
    np.testing.assert_array_equal(predictor.predict({"input": x}), expected)
    np.testing.assert_array_equal(predictor.predict(torch.from_numpy(x)), expected)
    with pytest.raises(UsageError, match="takes 1 inputs"):
        predictor.predict((x, x))


def test_package_onnx_builds_int8_but_keeps_fp32_without_a_metric(mlp, tmp_path):
    res = package_onnx(
        mlp, torch.randn(1, 64), workdir=tmp_path, quantize="dynamic", benchmark_batch_sizes=(1, 8)
    )
    assert res.variant == "fp32" and res.onnx_path == res.fp32_path
    assert "not measured" in res.reason
    assert res.int8_path.exists() and res.parity.passed
    metrics = res.to_metrics()
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert {"parity_max_abs_error", "onnx_int8_b1_p50_us", "torch_b8_rows_per_s"} <= set(metrics)
    d = res.to_dict()
    assert d["export"]["exporter"] == res.export.exporter and d["int8_path"].endswith(".onnx")


def test_package_onnx_gate_arguments_go_together(mlp, tmp_path):
    with pytest.raises(UsageError, match="metric_fn"):
        package_onnx(
            mlp,
            torch.randn(1, 64),
            workdir=tmp_path,
            quantize="dynamic",
            eval_data=[(torch.randn(4, 64), torch.zeros(4))],
            budget=0.01,
        )
    with pytest.raises(UsageError, match="quantize='int4'"):
        package_onnx(mlp, torch.randn(1, 64), workdir=tmp_path, quantize="int4")
