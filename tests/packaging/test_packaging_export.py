"""Export, validation and parity on real tiny models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from nbops.exceptions import ExportError, ParityError, UsageError
from nbops.packaging import check_parity, export, load


def test_mlp_exports_with_dynamo_and_matches_torch(mlp, mlp_onnx):
    assert mlp_onnx.exporter == "dynamo"
    assert mlp_onnx.dynamo_error is None
    report = check_parity(mlp, mlp_onnx.path, torch.randn(1, 64))
    assert report.passed and report.max_abs_error <= 1e-5
    assert len(report.batch_sizes) >= 2  # the random inputs ran at a second batch size too


def test_dynamic_batch_axis(mlp, mlp_onnx):
    proto = onnx.load(str(mlp_onnx.path))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic, not 1
    predictor = load(mlp_onnx.path)
    x = torch.randn(37, 64)
    np.testing.assert_allclose(predictor.predict(x.numpy()), mlp(x).detach().numpy(), atol=1e-5)


def test_cnn_parity_with_eval_inputs(cnn, tmp_path):
    res = export(cnn, torch.randn(2, 3, 16, 16), path=tmp_path / "cnn.onnx")
    report = check_parity(
        cnn,
        res.path,
        torch.randn(2, 3, 16, 16),
        n_random=4,
        eval_inputs=[torch.randn(6, 3, 16, 16)],
    )
    assert report.passed, report.to_text()
    assert {2, 3, 5, 6} <= set(report.batch_sizes)


class GuardedMLP(torch.nn.Module):
    """Refuses non-finite input: a data-dependent branch that torch.export cannot trace."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        if not torch.isfinite(x).all():
            raise ValueError("non-finite input")
        return self.fc(x)


def test_falls_back_to_torchscript_when_dynamo_rejects_the_model(tmp_path):
    # Real rejection, no forcing: torch.export fails on the data-dependent `if`.
    model = GuardedMLP().eval()
    res = export(model, torch.randn(2, 8), path=tmp_path / "guarded.onnx")
    assert res.exporter == "torchscript"
    assert "dynamo exporter failed" in res.reason and res.dynamo_error
    assert check_parity(model, res.path, torch.randn(2, 8)).passed


class SignBranch(torch.nn.Module):
    def forward(self, x):
        return x * 2 if x.sum() > 0 else x - 1


def test_parity_catches_a_traced_branch(tmp_path):
    # TorchScript bakes in the branch the example took; random inputs take the other one.
    x = torch.ones(1, 4)
    res = export(SignBranch(), x, path=tmp_path / "sign.onnx")
    assert res.exporter == "torchscript"
    with pytest.raises(ParityError, match="OVER TOLERANCE"):
        check_parity(SignBranch(), res.path, x)


@torch.library.custom_op("nbopstest::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    return x * 3


@mystery.register_fake
def _(x):
    return torch.empty_like(x)


class UsesMystery(torch.nn.Module):
    def forward(self, x):
        return mystery(x) + 1


def test_export_error_names_the_op_when_both_exporters_fail(tmp_path):
    with pytest.raises(ExportError) as info:
        export(UsesMystery(), torch.randn(2, 4), path=tmp_path / "m.onnx")
    msg = str(info.value)
    assert "nbopstest::mystery" in msg
    assert "[dynamo]" in msg and "[torchscript]" in msg


def test_wrong_shape_example_input_names_the_shape(mlp, tmp_path):
    with pytest.raises(UsageError) as info:
        export(mlp, torch.randn(1, 32), path=tmp_path / "x.onnx")
    msg = str(info.value)
    assert "(1, 32)" in msg and "in_features=64" in msg


def test_wrong_dtype_example_input_names_the_dtype(mlp, tmp_path):
    with pytest.raises(UsageError, match="float64"):
        export(mlp, torch.randn(1, 64, dtype=torch.float64), path=tmp_path / "x.onnx")


def test_non_torch_model_is_refused(tmp_path):
    class Forest:
        def predict(self, x):
            return x

    with pytest.raises(UsageError) as info:
        export(Forest(), torch.randn(1, 4), path=tmp_path / "x.onnx")
    assert "Forest" in str(info.value) and "torch.nn.Module" in str(info.value)


def test_non_tensor_example_input_is_refused(mlp, tmp_path):
    with pytest.raises(UsageError, match="torch.Tensor"):
        export(mlp, [[0.0] * 64], path=tmp_path / "x.onnx")


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_large_weights_go_to_external_data(exporter, tmp_path):
    model = torch.nn.Linear(64, 32).eval()
    x = torch.randn(3, 64)
    res = export(model, x, path=tmp_path / "big.onnx", exporter=exporter, external_data_threshold=0)
    assert res.external_data and (tmp_path / "big.onnx.data").exists()
    assert check_parity(model, res.path, x).passed


def test_tuple_input_and_tuple_output(tmp_path):
    class Two(torch.nn.Module):
        def forward(self, a, b):
            return a + b, a * b

    args = (torch.randn(2, 3), torch.randn(2, 3))
    res = export(Two(), args, path=tmp_path / "two.onnx", exporter="torchscript")
    assert res.input_names == ["input_0", "input_1"]
    assert res.output_names == ["output_0", "output_1"]
    assert check_parity(Two(), res.path, args).passed
    out = load(res.path).predict([a.numpy() for a in args])
    np.testing.assert_allclose(out[1], (args[0] * args[1]).numpy(), rtol=1e-6)


def test_training_flag_is_restored(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Dropout(0.5)).train()
    export(model, torch.randn(1, 4), path=tmp_path / "d.onnx", exporter="torchscript")
    assert model.training


def test_public_api_is_pinned():
    import nbops.packaging as pkg

    assert sorted(pkg.__all__) == sorted(
        [
            "DEFAULT_ATOL",
            "DEFAULT_RTOL",
            "BenchmarkTable",
            "ExportResult",
            "GateDecision",
            "LatencyRow",
            "OnnxPredictor",
            "PackageResult",
            "ParityReport",
            "benchmark",
            "check_parity",
            "choose_variant",
            "export",
            "load",
            "package_onnx",
            "quantize",
        ]
    )
    import nbops  # nbops.package: the library plus package-and-register (a workflow)

    assert callable(nbops.package.onnx) and nbops.package.export is pkg.export
