"""Lazy imports of the heavy libraries packaging needs, with an install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from nbops.exceptions import DependencyMissingError

_EXTRA = {"torch": "torch", "onnx": "onnx", "onnxruntime": "onnx", "onnxscript": "onnx"}


def require(package: str, feature: str) -> ModuleType:
    """Import ``package`` or raise DependencyMissingError naming ``feature`` and the extra."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise DependencyMissingError(package, feature, extra=_EXTRA.get(package, "onnx")) from exc
