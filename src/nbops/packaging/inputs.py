"""Model and input checks shared by export, parity and benchmarks.

An *example input* is one tensor or a tuple of tensors, exactly what ``model(*inputs)`` takes.
Axis 0 of every input with at least one dimension is the batch axis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from nbops.exceptions import UsageError

from ._deps import require

__all__ = [
    "as_tuple",
    "eval_mode",
    "flatten_outputs",
    "input_names",
    "output_names",
    "random_like",
    "to_feeds",
    "validate",
]


def as_tuple(example_input: Any) -> tuple[Any, ...]:
    """Return the example input as a tuple of tensors, or raise UsageError naming what it got."""
    torch = require("torch", "ONNX packaging")
    items = tuple(example_input) if isinstance(example_input, tuple | list) else (example_input,)
    if not items:
        raise UsageError("example_input is empty. Pass one tensor or a tuple of tensors.")
    for i, item in enumerate(items):
        if not isinstance(item, torch.Tensor):
            raise UsageError(
                f"example_input[{i}] is a {type(item).__name__}; pass a torch.Tensor or a tuple "
                "of tensors, e.g. torch.randn(1, 64) (convert numpy with torch.from_numpy)."
            )
    return items


def check_model_type(model: Any) -> None:
    """Raise UsageError unless ``model`` is a torch.nn.Module (ScriptModules included)."""
    torch = require("torch", "ONNX packaging")
    if not isinstance(model, torch.nn.Module):
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        raise UsageError(
            f"Cannot package a {kind}: nbops exports torch models only (a torch.nn.Module, "
            "including torch.jit.ScriptModule). Wrap the model in a torch.nn.Module, or log a "
            "non-torch model with nbops.log_model instead."
        )


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """Put ``model`` in eval mode for the block and restore its training flag afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _describe(inputs: Sequence[Any]) -> str:
    return ", ".join(
        f"shape {tuple(t.shape)} dtype {str(t.dtype).replace('torch.', '')}" for t in inputs
    )


def _expected_hint(model: Any) -> str:
    """Describe what the model's first layer takes, when that layer is a common kind."""
    torch = require("torch", "ONNX packaging")
    nn = torch.nn
    param = next(iter(model.parameters()), None)
    dtype = f" dtype {str(param.dtype).replace('torch.', '')}" if param is not None else ""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            return (
                f"its first layer is Linear(in_features={module.in_features}): pass shape "
                f"(batch, ..., {module.in_features}){dtype}"
            )
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            spatial = {nn.Conv1d: "L", nn.Conv2d: "H, W", nn.Conv3d: "D, H, W"}[type(module)]
            return (
                f"its first layer is {type(module).__name__}(in_channels="
                f"{module.in_channels}): pass shape (batch, {module.in_channels}, {spatial})"
                f"{dtype}"
            )
        if isinstance(module, nn.Embedding):
            return (
                f"its first layer is Embedding({module.num_embeddings}, ...): pass integer "
                f"indices below {module.num_embeddings} (dtype int64)"
            )
    return f"pass a tensor shaped like one real batch{dtype}"


def validate(model: Any, example_input: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Check model type and run it once on the example input.

    Returns ``(inputs, outputs)``, both flat tuples of tensors. Raises UsageError when the model
    is not a torch module or when its forward rejects the example input (wrong shape or dtype).

    >>> import torch
    >>> inputs, outputs = validate(torch.nn.Linear(4, 2), torch.randn(1, 4))
    >>> tuple(outputs[0].shape)
    (1, 2)
    """
    torch = require("torch", "ONNX packaging")
    check_model_type(model)
    inputs = as_tuple(example_input)
    try:
        with eval_mode(model), torch.inference_mode():
            out = model(*inputs)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"The model rejected the example input ({_describe(inputs)}): {first}. "
            f"Pass an example input the model accepts; {_expected_hint(model)}."
        ) from exc
    outputs = flatten_outputs(out)
    if not outputs:
        raise UsageError("The model returned no tensors; ONNX export needs at least one output.")
    return inputs, outputs


def flatten_outputs(out: Any) -> tuple[Any, ...]:
    """Flatten a tensor, or nested tuples/lists/dicts of tensors, into a tuple (ONNX order)."""
    torch = require("torch", "ONNX packaging")
    if isinstance(out, torch.Tensor):
        return (out,)
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, tuple | list):
        return tuple(t for item in out for t in flatten_outputs(item))
    return ()


def input_names(n: int) -> list[str]:
    """ONNX input names nbops gives an exported model: ``input`` or ``input_0..``."""
    return ["input"] if n == 1 else [f"input_{i}" for i in range(n)]


def output_names(n: int) -> list[str]:
    """ONNX output names nbops gives an exported model: ``output`` or ``output_0..``."""
    return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]


def random_like(
    inputs: Sequence[Any], *, batch: int | None = None, generator: Any = None
) -> tuple[Any, ...]:
    """Random tensors with the dtype and shape of ``inputs`` (axis 0 set to ``batch`` if given).

    Floats are standard normal; integers are drawn between the example's min and max (so
    embedding indices stay valid); booleans are fair coin flips.
    """
    torch = require("torch", "ONNX packaging")
    result = []
    for t in inputs:
        shape = list(t.shape)
        if batch is not None and shape:
            shape[0] = batch
        if t.dtype.is_floating_point:
            r = torch.randn(shape, generator=generator, dtype=t.dtype)
        elif t.dtype == torch.bool:
            r = torch.randint(0, 2, shape, generator=generator).bool()
        else:
            lo = int(t.min()) if t.numel() else 0
            hi = int(t.max()) if t.numel() else 1
            r = torch.randint(lo, hi + 1, shape, generator=generator, dtype=t.dtype)
        result.append(r)
    return tuple(result)


def to_feeds(names: Sequence[str], inputs: Sequence[Any]) -> dict[str, Any]:
    """Map ONNX input names to numpy arrays (torch tensors are detached and moved to CPU)."""
    return {
        n: (t.detach().cpu().numpy() if hasattr(t, "detach") else t)
        for n, t in zip(names, inputs, strict=True)
    }
