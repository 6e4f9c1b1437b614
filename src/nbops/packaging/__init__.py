"""Packaging: torch model → ONNX with parity checks, a metric-gated int8 model, benchmarks.

    package_onnx   the whole pipeline (validate → export → check → parity → quantize? → gate
                   → benchmark), returning a PackageResult
    export         torch → ONNX (dynamo exporter, TorchScript fallback), checked
    check_parity   torch vs onnxruntime outputs on example, random and eval inputs
    quantize       int8 via onnxruntime.quantization (dynamic or static)
    choose_variant the int8 gate (metric budget and measured speed)
    benchmark      torch eager vs onnxruntime latency/throughput
    load           an OnnxPredictor for inference

torch, onnx and onnxruntime are imported only when a function needs them. Packaging a registered
model and registering the package (``nbops.package.onnx``) is the workflow
:mod:`nbops.workflows.package`.
"""

from .api import PackageResult, package_onnx
from .bench import BenchmarkTable, LatencyRow, benchmark
from .gate import GateDecision, choose_variant
from .onnx_export import ExportResult, export
from .parity import DEFAULT_ATOL, DEFAULT_RTOL, ParityReport, check_parity
from .quantization import quantize
from .runtime import OnnxPredictor, load

__all__ = [
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
