"""Tiny real models shared by the packaging tests (torch + onnxruntime, no mocks).

This folder has no ``__init__.py`` on purpose: as a package named ``packaging`` it would shadow
the PyPI ``packaging`` library that onnxscript imports.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def make_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    ).eval()


def make_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 10),
    ).eval()


@pytest.fixture
def cnn():
    return make_cnn()


@pytest.fixture(scope="session")
def mlp():
    return make_mlp()


@pytest.fixture(scope="session")
def mlp_onnx(mlp, tmp_path_factory):
    """The MLP exported once with the default (dynamo) exporter."""
    from nbops.packaging import export

    return export(mlp, torch.randn(1, 64), path=tmp_path_factory.mktemp("mlp") / "mlp.onnx")


@pytest.fixture(scope="session")
def mlp_int8(mlp_onnx):
    from nbops.packaging import quantize

    return quantize(mlp_onnx.path, "dynamic")
