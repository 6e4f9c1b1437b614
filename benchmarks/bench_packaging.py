"""Packaging figures: torch eager vs ONNX fp32 vs ONNX int8, export time, predictor overhead.

Run:  python benchmarks/bench_packaging.py > packaging.json
Prints one JSON document. Models: the example MLP (64→256→256→10) and a small CNN
(3×32×32 → conv8 → pool → conv16 → pool → fc10). The int8 metric is top-1 agreement with
torch on 2,048 random inputs (the models are randomly initialised, so there are no labels).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_model(name: str):
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    if name == "mlp":
        model = nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        example = torch.randn(1, 64)
    else:
        model = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, 10),
        )
        example = torch.randn(1, 3, 32, 32)
    return model.eval(), example


def export_once(model_name: str, exporter: str) -> None:
    """Child process: time one export in a fresh interpreter (cold), print seconds."""
    from nbops.packaging import export

    model, example = make_model(model_name)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        export(model, example, path=Path(tmp) / "m.onnx", exporter=exporter)
        print(time.perf_counter() - t0)


def cold_export_seconds(model_name: str, exporter: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--export-once", model_name, exporter],
        check=True,
        capture_output=True,
        text=True,
    )
    return round(float(out.stdout.strip().splitlines()[-1]), 3)


def agreement(outputs, targets) -> float:
    return float((outputs.argmax(1) == targets).mean())


def predictor_overhead(path: Path, example) -> dict[str, float]:
    import onnxruntime as ort

    from nbops.packaging import load
    from nbops.packaging.bench import interleaved_p50

    x = example.numpy()
    raw = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in raw.get_outputs()]
    feeds = {raw.get_inputs()[0].name: x}
    predictor = load(path, providers=["CPUExecutionProvider"])
    p50 = interleaved_p50(
        {
            "raw_session_run": lambda: raw.run(names, feeds),
            "predictor_predict": lambda: predictor.predict(x),
        },
        rounds=10,
        per_round_iters=500,
        max_seconds=6.0,
    )
    p50["overhead_pct"] = 100.0 * (p50["predictor_predict"] / p50["raw_session_run"] - 1)
    return {k: round(v, 2) for k, v in p50.items()}


def bench_model(name: str, workdir: Path) -> dict:
    import torch

    from nbops.packaging import benchmark, check_parity, export, quantize
    from nbops.packaging.gate import evaluate

    model, example = make_model(name)
    fp32 = export(model, example, path=workdir / f"{name}.onnx")
    parity = check_parity(model, fp32.path, example)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn((2048, *example.shape[1:]), generator=gen)
    with torch.inference_mode():
        labels = model(x).argmax(1)
    eval_data = [(x[i : i + 256], labels[i : i + 256]) for i in range(0, 2048, 256)]
    variants = {
        "onnx_fp32": fp32.path,
        "onnx_int8_dynamic": quantize(
            fp32.path, "dynamic", output_path=workdir / f"{name}.dyn.onnx"
        ),
        "onnx_int8_static": quantize(
            fp32.path,
            "static",
            [b for b, _ in eval_data[:4]],
            output_path=workdir / f"{name}.static.onnx",
        ),
    }
    table = benchmark(
        model, variants, (1, 256), example_input=example, warmup=50, max_iters=3000, max_seconds=2.0
    )
    metric = {k: round(evaluate(p, eval_data, agreement), 4) for k, p in variants.items()}
    metric["torch"] = evaluate(model, eval_data, agreement)
    rows = {}
    for r in table.rows:
        entry = rows.setdefault(r.variant, {})
        if r.batch_size == 1:
            entry.update(b1_p50_us=round(r.p50_us, 1), b1_p99_us=round(r.p99_us, 1))
        else:
            entry.update(
                b256_rows_per_s=round(r.throughput_rows_s),
                b256_rows_per_s_at_p50=round(r.throughput_p50_rows_s),
                b256_p50_us=round(r.p50_us, 1),
            )
    return {
        "exporter": fp32.exporter,
        "parity_max_abs_error": parity.max_abs_error,
        "latency": rows,
        "int8_metric": "top-1 agreement with torch, 2048 random inputs",
        "metric": metric,
        "int8_metric_delta": {
            k: round(metric[k] - metric["torch"], 4) for k in variants if "int8" in k
        },
        "sizes_bytes": {k: Path(p).stat().st_size for k, p in variants.items()},
        "export_seconds_cold": {e: cold_export_seconds(name, e) for e in ("dynamo", "torchscript")},
        "predict_overhead_b1": predictor_overhead(fp32.path, example),
        "settings": table.settings,
    }


def main() -> None:
    import onnxruntime
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "machine": {
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "onnxruntime": onnxruntime.__version__,
                "processor": platform.processor() or platform.machine(),
            },
            "models": {name: bench_model(name, Path(tmp)) for name in ("mlp", "cnn")},
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--export-once":
        export_once(sys.argv[2], sys.argv[3])
    else:
        main()
