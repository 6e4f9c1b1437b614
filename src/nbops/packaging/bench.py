"""Latency and throughput of torch eager and onnxruntime variants on the same inputs.

Every number is measured here, on this machine, with the settings it reports next to it:
execution providers, intra/inter-op threads, graph optimisation level, torch threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import UsageError

from ._deps import require
from .inputs import as_tuple, eval_mode, random_like, to_feeds, validate
from .runtime import make_session, session_info

__all__ = ["BenchmarkTable", "LatencyRow", "benchmark", "interleaved_p50", "time_calls"]


@dataclass
class LatencyRow:
    """One variant at one batch size: latency percentiles (µs per call) and rows per second.

    ``throughput_rows_s`` is rows over total time (mean latency): what a loaded machine
    sustains. ``throughput_p50_rows_s`` uses the median call: less sensitive to other processes.
    """

    variant: str
    batch_size: int
    p50_us: float
    p99_us: float
    mean_us: float
    throughput_rows_s: float
    throughput_p50_rows_s: float
    iterations: int


@dataclass
class BenchmarkTable:
    """Rows per (variant, batch size) plus the settings they were measured with."""

    rows: list[LatencyRow] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def row(self, variant: str, batch_size: int) -> LatencyRow:
        for r in self.rows:
            if r.variant == variant and r.batch_size == batch_size:
                return r
        known = sorted({(r.variant, r.batch_size) for r in self.rows})
        raise UsageError(
            f"No benchmark row for {variant!r} at batch {batch_size}; measured: {known}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [asdict(r) for r in self.rows], "settings": self.settings}

    def to_markdown(self) -> str:
        """A markdown table: variant, batch, p50/p99 µs, rows/s."""
        lines = ["| variant | batch | p50 µs | p99 µs | rows/s |", "|---|---:|---:|---:|---:|"]
        lines += [
            f"| {r.variant} | {r.batch_size} | {r.p50_us:.1f} | {r.p99_us:.1f} | "
            f"{r.throughput_rows_s:,.0f} |"
            for r in self.rows
        ]
        return "\n".join(lines)


def time_calls(
    fn: Callable[[], Any], *, warmup: int = 10, max_iters: int = 300, max_seconds: float = 1.0
) -> list[float]:
    """Call ``fn`` ``warmup`` times, then up to ``max_iters`` times within ``max_seconds``;
    return each timed call's duration in µs."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    samples: list[float] = []
    deadline = clock() + int(max_seconds * 1e9)
    while len(samples) < max_iters:
        t0 = clock()
        fn()
        t1 = clock()
        samples.append((t1 - t0) / 1e3)
        if t1 > deadline and len(samples) >= 5:
            break
    return samples


def _percentile(samples: Sequence[float], q: float) -> float:
    s = sorted(samples)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return float(s[k])


def _row(variant: str, batch: int, samples: list[float]) -> LatencyRow:
    mean = sum(samples) / len(samples)
    p50 = _percentile(samples, 50)
    return LatencyRow(
        variant,
        batch,
        p50,
        _percentile(samples, 99),
        mean,
        batch / (mean / 1e6),
        batch / (p50 / 1e6),
        len(samples),
    )


def interleaved_p50(
    fns: Mapping[str, Callable[[], Any]],
    *,
    rounds: int = 5,
    per_round_iters: int = 60,
    max_seconds: float = 2.0,
) -> dict[str, float]:
    """Median µs per call for each function, measured in alternating rounds so that load from
    other processes hits every candidate alike."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    budget = max_seconds / max(1, rounds * len(fns))
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name] += time_calls(fn, warmup=3, max_iters=per_round_iters, max_seconds=budget)
    return {k: _percentile(v, 50) for k, v in samples.items()}


def benchmark(
    model: Any,
    onnx_paths: Mapping[str, str | Path],
    batch_sizes: Sequence[int] = (1, 256),
    *,
    example_input: Any,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    warmup: int = 10,
    max_iters: int = 300,
    max_seconds: float = 1.0,
) -> BenchmarkTable:
    """Measure torch eager (variant ``"torch"``, skipped when ``model`` is None) and each ONNX
    file (variants named by the keys of ``onnx_paths``) at each batch size.

    ``threads`` pins both torch and onnxruntime intra-op threads (torch's setting is restored
    afterwards); ``None`` leaves both at their defaults, which are reported.

    >>> table = benchmark(mlp, {"onnx_fp32": "mlp.onnx"}, (1, 256),
    ...                   example_input=torch.randn(1, 64))          # doctest: +SKIP
    >>> table.row("onnx_fp32", 1).p50_us                             # doctest: +SKIP
    """
    torch = require("torch", "benchmarking")
    if not batch_sizes or any(int(b) < 1 for b in batch_sizes):
        raise UsageError(f"batch_sizes must be positive integers, got {tuple(batch_sizes)}.")
    if model is not None:
        example, _ = validate(model, example_input)
    else:
        example = as_tuple(example_input)
    gen = torch.Generator().manual_seed(0)
    batches = {int(b): random_like(example, batch=int(b), generator=gen) for b in batch_sizes}
    table = BenchmarkTable()
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        table.settings["torch"] = {
            "threads": torch.get_num_threads(),
            "version": torch.__version__,
            "device": "cpu",
        }
        if model is not None:
            with eval_mode(model), torch.inference_mode():
                for b, inputs in batches.items():
                    samples = time_calls(
                        lambda i=inputs: model(*i),
                        warmup=warmup,
                        max_iters=max_iters,
                        max_seconds=max_seconds,
                    )
                    table.rows.append(_row("torch", b, samples))
        ort = require("onnxruntime", "benchmarking")
        table.settings["onnxruntime"] = {"version": ort.__version__, "sessions": {}}
        for variant, path in onnx_paths.items():
            session = make_session(path, providers=providers, threads=threads)
            table.settings["onnxruntime"]["sessions"][variant] = session_info(session)
            names_in = [i.name for i in session.get_inputs()]
            names_out = [o.name for o in session.get_outputs()]
            for b, inputs in batches.items():
                feeds = to_feeds(names_in, inputs)
                samples = time_calls(
                    lambda f=feeds, s=session, n=names_out: s.run(n, f),
                    warmup=warmup,
                    max_iters=max_iters,
                    max_seconds=max_seconds,
                )
                table.rows.append(_row(variant, b, samples))
    finally:
        torch.set_num_threads(old_threads)
    return table
