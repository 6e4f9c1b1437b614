"""What a server runs: the version behind a reference, loaded as its ONNX package or its pyfunc.

    NAME@ALIAS ─► version (nbops.registry.resolve)
      ─► the version itself when it is an ONNX model (``churn-onnx@prod``)
      ─► else its ONNX package: the newest version tagged ``nbops.source_model=NAME/V``
         (what ``nbops package`` / ``nbops.package.onnx`` register)
      ─► else the version's MLflow pyfunc (slower; the server says so at start)
    ─► a :class:`Slot`: predictor + input spec, warmed with one zero example

Example:
    >>> slot = load_slot("churn@prod")           # doctest: +SKIP
    >>> slot.version, slot.flavor                # doctest: +SKIP
    ('3', 'onnx')
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nbops.exceptions import NotFoundError
from nbops.serving.spec import InputSpec, TensorInput
from nbops.store import open_store
from nbops.store import tags as T
from nbops.store.models import download_model, load_folder

__all__ = ["Slot", "find_package", "load_slot", "to_jsonable"]

log = logging.getLogger("nbops.serving")

_ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64",
               "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(bool)": "bool",
               "tensor(float16)": "float16", "tensor(uint8)": "uint8", "tensor(int8)": "int8"}


@dataclass(frozen=True)
class Slot:
    """One loaded model version: ``ref`` is what it was asked for (``churn@prod``); ``name`` and
    ``version`` are what it resolved to; ``package`` is the ONNX package served (or None)."""

    ref: str
    name: str
    version: str
    flavor: str
    package: str | None
    spec: InputSpec
    predict: Any  # feeds dict -> array or list of arrays

    def describe(self) -> dict[str, Any]:
        return {"ref": self.ref, "model": self.name, "version": self.version,
                "flavor": self.flavor, "package": self.package,
                "inputs": [{"name": t.name, "dtype": t.dtype.name, "shape": list(t.shape)}
                           for t in self.spec.inputs]}


def to_jsonable(out: Any) -> Any:
    """A model's output as JSON-ready lists (several outputs: a dict by output name)."""
    if isinstance(out, dict):
        return {k: np.asarray(v).tolist() for k, v in out.items()}
    return np.asarray(out).tolist()


def current_version(ref: str) -> str:
    """The version ``ref`` resolves to now (NotFoundError for an unknown model or alias)."""
    from nbops.registry.resolve import resolve_version

    return str(resolve_version(ref, store=open_store()).version)


def find_package(name: str, version: str) -> tuple[str, str] | None:
    """(package name, package version) of the newest ONNX package of ``name/version``."""
    from nbops.registry.resolve import onnx_package

    return onnx_package(name, version, open_store())


def _download(name: str, version: str, cache: Path) -> Path:
    """The model version's files, downloaded once into ``cache``."""
    target = cache / name / version
    if (target / "MLmodel").is_file():
        return target
    partial = target.with_name(f"{version}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    download_model(open_store(), f"models:/{name}/{version}", partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _flavors(folder: Path) -> dict[str, Any]:
    import yaml

    return (yaml.safe_load((folder / "MLmodel").read_text()) or {}).get("flavors", {})


def load_slot(ref: str, cache: Path, version: str | None = None) -> Slot:
    """Load what ``ref`` points to (or its ``version``), warm it, and return the :class:`Slot`."""
    from nbops.registry.resolve import parse_ref

    name = parse_ref(ref).name
    version = version or current_version(ref)
    tags = open_store().model_version(name, version).tags
    package = (name, version) if tags.get(T.PACKAGE) == "onnx" else \
        find_package(name, version)
    if package is not None:
        slot = _onnx_slot(ref, name, version, _download(*package, cache), "/".join(package))
    else:
        folder = _download(name, version, cache)
        if "onnx" in _flavors(folder):
            slot = _onnx_slot(ref, name, version, folder, f"{name}/{version}")
        else:
            log.warning("%s/%s has no ONNX package: serving its MLflow pyfunc, which is "
                        "slower. Package it with `nbops package %s/%s`.", name, version, name,
                        version)
            slot = _pyfunc_slot(ref, name, version, folder)
    slot.predict(slot.spec.example())  # warm: the first run allocates and optimises
    return slot


def _onnx_slot(ref: str, name: str, version: str, folder: Path, package: str) -> Slot:
    from nbops.packaging.runtime import load

    flavor = _flavors(folder)["onnx"]
    path = folder / flavor.get("data", "model.onnx")
    if not path.is_file():
        raise NotFoundError(f"The ONNX package {package} has no model file at {path}. "
                            f"Package {name}/{version} again with `nbops package {name}/"
                            f"{version}`.")
    predictor = load(path, providers=["CPUExecutionProvider"], threads=1)
    inputs = tuple(
        TensorInput(i.name, np.dtype(_ONNX_TYPES.get(i.type, "float32")),
                    tuple(d if isinstance(d, int) and d > 0 else -1 for d in i.shape))
        for i in predictor.session.get_inputs())
    predict = predictor.predict
    if len(predictor.output_names) > 1:  # answered by output name, as MLflow's onnx flavor does
        names = predictor.output_names

        def predict(feeds: dict[str, np.ndarray]) -> Any:
            return dict(zip(names, predictor.predict(feeds), strict=True))

    return Slot(ref, name, version, "onnx", package, InputSpec(inputs), predict)


def _pyfunc_slot(ref: str, name: str, version: str, folder: Path) -> Slot:
    model = load_folder(folder, "pyfunc")
    schema = model.metadata.get_input_schema()
    if schema is None:
        raise NotFoundError(f"{name}/{version} has no input signature, so requests cannot be "
                            "checked. Log the model with an input_example (nbops.log_model("
                            "model, name, input_example=x)) or package it to ONNX.")
    if schema.is_tensor_spec():
        inputs = tuple(TensorInput(s.name or "input", np.dtype(s.type), tuple(s.shape))
                       for s in schema.inputs)
        if len(inputs) == 1:
            def predict(feeds: dict[str, np.ndarray]) -> Any:
                return np.asarray(model.predict(next(iter(feeds.values()))))
        else:
            def predict(feeds: dict[str, np.ndarray]) -> Any:
                return model.predict(feeds)
        return Slot(ref, name, version, "pyfunc", None, InputSpec(inputs), predict)
    import pandas as pd

    columns = tuple(schema.input_names())
    dtypes = {np.dtype(t).kind for t in schema.numpy_types()}
    dtype = np.dtype("float64") if dtypes <= {"f", "i", "u", "b"} else np.dtype(object)

    def predict_frame(feeds: dict[str, np.ndarray]) -> Any:
        frame = pd.DataFrame(next(iter(feeds.values())), columns=list(columns))
        return np.asarray(model.predict(frame))

    spec = InputSpec((TensorInput("input", dtype, (-1, len(columns))),), columns)
    return Slot(ref, name, version, "pyfunc", None, spec, predict_frame)
