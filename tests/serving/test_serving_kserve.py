"""``nbops serve --export kserve``: the InferenceService of a served alias, checked field by field
against KServe's v1beta1 schema, and against the kserve SDK's models where that is installed."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

import nbops
from nbops.exceptions import NotFoundError


def _check_structure(doc: dict) -> dict:
    assert doc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert doc["kind"] == "InferenceService"
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(doc["spec"]) == {"predictor"}
    predictor = doc["spec"]["predictor"]
    assert set(predictor) <= {"model", "canaryTrafficPercent"}
    model = predictor["model"]
    assert set(model) == {"modelFormat", "protocolVersion", "storageUri"}
    assert model["modelFormat"] == {"name": "onnx"} and model["protocolVersion"] == "v2"
    assert all(isinstance(v, str) for v in doc["metadata"]["annotations"].values())
    return predictor


def _check_with_sdk(doc: dict) -> None:
    """Build the SDK's models from the manifest (every key must be an attribute the model
    declares, every value accepted by its setter), then write them back: the same manifest."""
    import kserve
    import kubernetes.client as k8s

    def build(type_name: str, data):
        if type_name in ("str", "int", "bool", "float", "object"):
            return data
        if type_name.lower().startswith(("dict(", "dict[")):
            return dict(data)
        if type_name.lower().startswith("list["):
            return [build(type_name[5:-1], x) for x in data]
        cls = getattr(kserve, type_name, None) or getattr(k8s, type_name)
        names = {v: k for k, v in cls.attribute_map.items()}
        assert set(data) <= set(names), (type_name, set(data) - set(names))
        return cls(**{names[k]: build(cls.openapi_types[names[k]], v) for k, v in data.items()})

    def dump(obj):
        if not hasattr(obj, "attribute_map"):
            return obj
        return {obj.attribute_map[k]: dump(getattr(obj, k)) for k in obj.openapi_types
                if getattr(obj, k) not in (None, "")}

    isvc = build("V1beta1InferenceService", doc)
    assert isinstance(isvc, kserve.V1beta1InferenceService)
    assert dump(isvc) == doc


def test_export_primary_and_canary(project_dir, tmp_path):
    doc = yaml.safe_load(nbops.serve.export_kserve("tiny@prod"))
    predictor = _check_structure(doc)
    assert "canaryTrafficPercent" not in predictor
    assert doc["metadata"]["name"] == "tiny"
    assert doc["metadata"]["annotations"]["nbops/package"] == "tiny-onnx/1"
    assert predictor["model"]["storageUri"].endswith("/artifacts")

    out = tmp_path / "isvc.yaml"
    result = subprocess.run([sys.executable, "-m", "nbops", "serve", "tiny@prod", "--export",
                             "kserve", "--canary", "challenger=10%", "--storage-uri",
                             "s3://models/tiny-onnx/2", "--out", str(out)], cwd=project_dir,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert not text.startswith("#")  # an object-store URI needs no warning
    canary = yaml.safe_load(text)
    predictor = _check_structure(canary)
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["model"]["storageUri"] == "s3://models/tiny-onnx/2"
    assert canary["metadata"]["annotations"]["nbops/canary-package"] == "tiny-onnx/2"
    assert "is on this machine" in nbops.serve.export_kserve("tiny@prod").splitlines()[0]
    with pytest.raises(NotFoundError, match="nbops package tiny/3"):
        nbops.serve.export_kserve("tiny@raw")


def test_export_is_read_by_the_kserve_sdk(project_dir):
    pytest.importorskip("kserve")
    _check_with_sdk(yaml.safe_load(nbops.serve.export_kserve("tiny@prod",
                                                             canary="challenger=25%")))
