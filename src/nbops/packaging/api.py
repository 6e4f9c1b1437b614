"""``package_onnx``: the whole packaging pipeline in one call.

validate → export (+ onnx.checker) → parity → quantize? → gate → benchmark. MLflow logging is
not done here: ``PackageResult.to_metrics()`` and ``to_dict()`` are what a caller logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nbops.exceptions import UsageError

from .bench import BenchmarkTable, benchmark
from .gate import GateDecision, choose_variant
from .inputs import as_tuple, validate
from .onnx_export import ExportResult, export
from .parity import DEFAULT_ATOL, DEFAULT_RTOL, ParityReport, check_parity
from .quantization import quantize as quantize_onnx

__all__ = ["PackageResult", "package_onnx"]


def _size(path: Path | None) -> int:
    if path is None:
        return 0
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


@dataclass
class PackageResult:
    """Everything ``package_onnx`` produced. ``onnx_path`` is the file to ship."""

    onnx_path: Path
    variant: str  # "fp32" or "int8"
    reason: str
    export: ExportResult
    parity: ParityReport
    fp32_path: Path
    int8_path: Path | None = None
    int8_parity: ParityReport | None = None  # informational: int8 is judged by the gate
    decision: GateDecision | None = None
    benchmark: BenchmarkTable | None = None
    sizes_bytes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_metrics(self) -> dict[str, float]:
        """Flat float metrics, named for ``mlflow.log_metrics``."""
        m: dict[str, float] = {
            "parity_max_abs_error": self.parity.max_abs_error,
            "parity_max_rel_error": self.parity.max_rel_error,
            "export_seconds": self.export.seconds,
            "onnx_fp32_size_bytes": float(self.sizes_bytes.get("onnx_fp32", 0)),
            "int8_chosen": float(self.variant == "int8"),
        }
        if self.int8_path is not None:
            m["onnx_int8_size_bytes"] = float(self.sizes_bytes.get("onnx_int8", 0))
        if self.int8_parity is not None:
            m["int8_max_abs_error"] = self.int8_parity.max_abs_error
        if self.decision is not None:
            m.update({f"metric_{k}": v for k, v in self.decision.metrics.items()})
            m["int8_metric_loss"] = self.decision.metric_loss
            m["int8_speedup"] = self.decision.speedup
        if self.benchmark is not None:
            for r in self.benchmark.rows:
                key = f"{r.variant}_b{r.batch_size}"
                m[f"{key}_p50_us"] = r.p50_us
                m[f"{key}_p99_us"] = r.p99_us
                m[f"{key}_rows_per_s"] = r.throughput_rows_s
        return m

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (paths as strings)."""
        return {
            "onnx_path": str(self.onnx_path),
            "variant": self.variant,
            "reason": self.reason,
            "fp32_path": str(self.fp32_path),
            "int8_path": str(self.int8_path) if self.int8_path else None,
            "export": self.export.to_dict(),
            "parity": self.parity.to_dict(),
            "int8_parity": self.int8_parity.to_dict() if self.int8_parity else None,
            "decision": self.decision.to_dict() if self.decision else None,
            "benchmark": self.benchmark.to_dict() if self.benchmark else None,
            "sizes_bytes": self.sizes_bytes,
            "seconds": self.seconds,
        }


def _check_arguments(quantize, calibration_data, eval_data, metric_fn, budget, batch_size):
    if quantize not in (None, "dynamic", "static"):
        raise UsageError(f"quantize={quantize!r} is not known; use None, 'dynamic' or 'static'.")
    if quantize == "static" and calibration_data is None:
        raise UsageError("quantize='static' needs calibration_data (a list of input batches).")
    gate_args = {"eval_data": eval_data, "metric_fn": metric_fn, "budget": budget}
    given = [k for k, v in gate_args.items() if v is not None]
    if given and len(given) < 3:
        missing = [k for k in gate_args if k not in given]
        raise UsageError(
            f"The int8 gate needs eval_data, metric_fn and budget together; "
            f"{', '.join(missing)} missing."
        )
    if budget is not None and budget < 0:
        raise UsageError(f"budget must be >= 0 (metric units), got {budget}.")
    if batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}.")


def package_onnx(
    model: Any,
    example_input: Any,
    *,
    workdir: str | Path,
    quantize: Literal["dynamic", "static"] | None = None,
    calibration_data: Iterable[Any] | None = None,
    eval_data: Iterable[Any] | None = None,
    metric_fn: Callable[[Any, Any], float] | None = None,
    budget: float | None = None,
    batch_size: int = 1,
    higher_is_better: bool = True,
    dynamic_batch: bool = True,
    opset: int | None = None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    benchmark_batch_sizes: Sequence[int] = (1, 256),
    run_benchmark: bool = True,
) -> PackageResult:
    """Export, check, optionally quantize and gate, and benchmark a torch model.

    ``eval_data`` is a list of ``(inputs, targets)`` batches; ``metric_fn(outputs, targets)``
    gets numpy arrays; ``budget`` is the metric loss int8 may cost; ``batch_size`` is the batch
    size you will serve at (int8 must be faster there). Without eval_data/metric_fn/budget an
    int8 model is built and benchmarked but fp32 is kept: its accuracy was not measured.

    >>> import torch, tempfile
    >>> mlp = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
    ...                           torch.nn.Linear(256, 10))
    >>> res = package_onnx(mlp, torch.randn(1, 64), workdir=tempfile.mkdtemp(),
    ...                    run_benchmark=False)
    >>> res.variant, res.parity.passed
    ('fp32', True)
    """
    # 1. validate: arguments, model type, the example input against the model
    _check_arguments(quantize, calibration_data, eval_data, metric_fn, budget, batch_size)
    validate(model, example_input)
    eval_data = list(eval_data) if eval_data is not None else None
    workdir = Path(workdir)
    seconds: dict[str, float] = {}

    # 2-3. export (dynamo, TorchScript fallback) and onnx.checker
    exported = export(
        model, example_input, path=workdir / "model.onnx", dynamic_batch=dynamic_batch, opset=opset
    )
    fp32 = exported.path
    seconds["export"] = exported.seconds

    # 4. parity of the fp32 file (raises ParityError)
    t0 = time.perf_counter()
    eval_inputs = [x for x, _ in eval_data] if eval_data else None
    parity = check_parity(model, fp32, example_input, eval_inputs=eval_inputs, atol=atol, rtol=rtol)
    seconds["parity"] = time.perf_counter() - t0

    # 5. quantize?
    int8 = int8_parity = decision = None
    variant, reason = "fp32", "no quantization was requested."
    if quantize is not None:
        t0 = time.perf_counter()
        calib = [as_tuple(c) for c in calibration_data] if calibration_data is not None else None
        int8 = quantize_onnx(fp32, quantize, calib, output_path=workdir / "model.int8.onnx")
        int8_parity = check_parity(
            model,
            int8,
            example_input,
            eval_inputs=eval_inputs,
            atol=atol,
            rtol=rtol,
            raise_on_failure=False,
        )
        seconds["quantize"] = time.perf_counter() - t0

        # 6. gate: int8 only when measured good enough and faster
        if eval_data is not None:
            t0 = time.perf_counter()
            decision = choose_variant(
                model,
                fp32,
                int8,
                eval_data=eval_data,
                metric_fn=metric_fn,
                budget=budget,
                batch_size=batch_size,
                higher_is_better=higher_is_better,
            )
            variant, reason = decision.variant, decision.reason
            seconds["gate"] = time.perf_counter() - t0
        else:
            reason = (
                "fp32 kept: int8 was built but its accuracy was not measured; pass "
                "eval_data=, metric_fn= and budget= to let the gate consider it."
            )

    # 7. benchmark every variant built
    table = None
    if run_benchmark:
        t0 = time.perf_counter()
        paths = {"onnx_fp32": fp32} | ({"onnx_int8": int8} if int8 else {})
        sizes = sorted({*map(int, benchmark_batch_sizes), int(batch_size)})
        table = benchmark(model, paths, sizes, example_input=example_input)
        seconds["benchmark"] = time.perf_counter() - t0

    return PackageResult(
        onnx_path=int8 if variant == "int8" else fp32,
        variant=variant,
        reason=reason,
        export=exported,
        parity=parity,
        fp32_path=fp32,
        int8_path=int8,
        int8_parity=int8_parity,
        decision=decision,
        benchmark=table,
        sizes_bytes={"onnx_fp32": _size(fp32)} | ({"onnx_int8": _size(int8)} if int8 else {}),
        seconds=seconds,
    )
