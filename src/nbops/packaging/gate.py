"""The int8 gate: keep the int8 model only when it is measured to be good enough and faster.

Rule: int8 is kept when ``metric_loss <= budget`` **and** int8's median latency at the batch
size you name is below fp32's divided by ``min_speedup``. ``metric_loss`` is how much worse
int8 scores than the torch model (``torch - int8`` when higher is better, ``int8 - torch``
otherwise). Both figures are measured on your ``eval_data``; nothing is assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nbops.exceptions import UsageError

from ._deps import require
from .bench import interleaved_p50
from .inputs import as_tuple, eval_mode, flatten_outputs, random_like, to_feeds
from .runtime import make_session

__all__ = ["GateDecision", "choose_variant", "evaluate"]

MetricFn = Callable[[Any, Any], float]


@dataclass
class GateDecision:
    """Which variant to ship and why, with the measured figures behind it."""

    variant: str  # "fp32" or "int8"
    reason: str
    metrics: dict[str, float]  # "torch", "onnx_fp32", "onnx_int8"
    metric_loss: float
    budget: float
    higher_is_better: bool
    batch_size: int
    latency_p50_us: dict[str, float]  # "onnx_fp32", "onnx_int8" at batch_size
    speedup: float  # fp32 latency / int8 latency

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batches(eval_data: Iterable[Any]) -> list[tuple[tuple[Any, ...], Any]]:
    batches = []
    for item in eval_data:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise UsageError(
                "eval_data must yield (inputs, targets) pairs, e.g. a list of "
                f"(x_batch, y_batch); got a {type(item).__name__}."
            )
        batches.append((as_tuple(item[0]), item[1]))
    if not batches:
        raise UsageError("eval_data is empty; pass at least one (inputs, targets) batch.")
    return batches


def _concat(parts: list[Any]) -> Any:
    np = require("numpy", "the int8 gate")
    arrays = [p.detach().cpu().numpy() if hasattr(p, "detach") else np.asarray(p) for p in parts]
    return np.concatenate(arrays) if arrays[0].ndim else np.stack(arrays)


def _finish(outputs: list[list[Any]], targets: list[Any], metric_fn: MetricFn) -> float:
    per_output = [_concat([o[i] for o in outputs]) for i in range(len(outputs[0]))]
    value = metric_fn(
        per_output[0] if len(per_output) == 1 else tuple(per_output), _concat(targets)
    )
    return float(value)


def evaluate(runner: Any, eval_data: Iterable[Any], metric_fn: MetricFn) -> float:
    """``metric_fn(outputs, targets)`` over all of ``eval_data`` for a torch model or an ONNX
    file. ``outputs`` and ``targets`` are numpy arrays concatenated over the batches (a tuple of
    arrays for multi-output models)."""
    torch = require("torch", "the int8 gate")
    batches = _batches(eval_data)
    outputs: list[list[Any]] = []
    if isinstance(runner, torch.nn.Module):
        with eval_mode(runner), torch.inference_mode():
            for inputs, _ in batches:
                outputs.append([t.cpu().numpy() for t in flatten_outputs(runner(*inputs))])
    else:
        session = make_session(runner) if isinstance(runner, str | Path) else runner
        names_in = [i.name for i in session.get_inputs()]
        for inputs, _ in batches:
            outputs.append(session.run(None, to_feeds(names_in, inputs)))
    return _finish(outputs, [t for _, t in batches], metric_fn)


def choose_variant(
    model: Any,
    fp32_path: str | Path,
    int8_path: str | Path,
    *,
    eval_data: Iterable[Any],
    metric_fn: MetricFn,
    budget: float,
    batch_size: int = 1,
    higher_is_better: bool = True,
    min_speedup: float = 1.0,
    providers: list[str] | None = None,
    threads: int | None = None,
) -> GateDecision:
    """Measure torch, ONNX fp32 and ONNX int8 on ``eval_data`` and decide which ONNX file ships.

    >>> def accuracy(outputs, targets):
    ...     return float((outputs.argmax(1) == targets).mean())
    >>> d = choose_variant(mlp, "m.onnx", "m.int8.onnx", eval_data=[(x, y)],
    ...                    metric_fn=accuracy, budget=0.01, batch_size=256)  # doctest: +SKIP
    >>> d.variant, d.reason                                                 # doctest: +SKIP
    """
    torch = require("torch", "the int8 gate")
    if budget is None or budget < 0:
        raise UsageError(
            f"budget must be a number >= 0 in metric units (got {budget!r}), e.g. "
            "budget=0.01 to accept losing one point of accuracy."
        )
    if batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}.")
    batches = _batches(eval_data)
    sessions = {
        "onnx_fp32": make_session(fp32_path, providers=providers, threads=threads),
        "onnx_int8": make_session(int8_path, providers=providers, threads=threads),
    }
    metrics = {"torch": evaluate(model, batches, metric_fn)}
    metrics.update({k: evaluate(s, batches, metric_fn) for k, s in sessions.items()})
    sign = 1.0 if higher_is_better else -1.0
    loss = sign * (metrics["torch"] - metrics["onnx_int8"])

    example = batches[0][0]
    inputs = random_like(example, batch=batch_size, generator=torch.Generator().manual_seed(0))
    fns = {}
    for k, s in sessions.items():
        names_out = [o.name for o in s.get_outputs()]
        feeds = to_feeds([i.name for i in s.get_inputs()], inputs)
        fns[k] = lambda s=s, f=feeds, n=names_out: s.run(n, f)
    p50 = interleaved_p50(fns)
    speedup = p50["onnx_fp32"] / p50["onnx_int8"]

    within = loss <= budget
    faster = speedup > min_speedup
    lat = f"{p50['onnx_int8']:.1f} µs vs {p50['onnx_fp32']:.1f} µs for fp32 at batch {batch_size}"
    score = f"{metrics['onnx_int8']:.4g} vs {metrics['torch']:.4g} for torch"
    if within and faster:
        reason = (
            f"int8 kept: its metric is {score} (loss {loss:.3g} within the budget of "
            f"{budget:g}) and it is {speedup:.2f}x faster ({lat})."
        )
    elif not within and not faster:
        reason = (
            f"fp32 kept: int8 loses {loss:.3g} of the metric ({score}), over the budget "
            f"of {budget:g}, and is not faster ({lat})."
        )
    elif not within:
        reason = (
            f"fp32 kept: int8 loses {loss:.3g} of the metric ({score}), over the budget "
            f"of {budget:g}, although it is {speedup:.2f}x faster ({lat})."
        )
    else:
        need = f" by the required {min_speedup:g}x" if min_speedup > 1 else ""
        reason = (
            f"fp32 kept: int8 is within the metric budget (loss {loss:.3g} <= {budget:g})"
            f" but not faster{need} at batch {batch_size} ({lat})."
        )
    return GateDecision(
        variant="int8" if within and faster else "fp32",
        reason=reason,
        metrics=metrics,
        metric_loss=loss,
        budget=float(budget),
        higher_is_better=higher_is_better,
        batch_size=batch_size,
        latency_p50_us=p50,
        speedup=speedup,
    )
