"""torch → ONNX export: the dynamo exporter first, the TorchScript exporter as the fallback.

``export`` records which exporter produced the file and why, checks the file with
``onnx.checker`` (path form, so external data and >2 GB models work), marks axis 0 of every
input and output dynamic, and stores the weights in an external ``<name>.onnx.data`` file when
they exceed ``external_data_threshold`` bytes.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nbops.exceptions import ExportError, UsageError

from ._deps import require
from .inputs import eval_mode, input_names, output_names, validate

__all__ = ["EXTERNAL_DATA_THRESHOLD", "ExportResult", "export"]

#: Weights above this many bytes are saved next to the model as ``<file>.data`` (ONNX's hard
#: limit for a single protobuf is 2 GB; staying well below it keeps checker and ORT happy).
EXTERNAL_DATA_THRESHOLD = 1 << 30

Exporter = Literal["auto", "dynamo", "torchscript"]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OP_PATTERNS = (
    re.compile(r"OpOverload\(op='(?P<ns>\w+)\.(?P<op>\w+)'"),
    re.compile(r"operator '(?P<ns>\w+)::(?P<op>\w+)'"),
    re.compile(r"unrecognized namespace (?P<ns>\w+)::(?P<op>\w+)"),
    re.compile(r"torch\.ops\.(?P<ns>\w+)\.(?P<op>\w+)"),
    re.compile(r"\b(?P<ns>aten|prim|quantized)::(?P<op>\w+)' (?:to ONNX|is not supported)"),
)


@dataclass
class ExportResult:
    """What ``export`` produced and how.

    ``exporter`` is ``"dynamo"`` or ``"torchscript"``; ``reason`` says why that one was used
    (``dynamo_error`` holds the dynamo exporter's message when it fell back).
    """

    path: Path
    exporter: str
    reason: str
    opset: int
    input_names: list[str]
    output_names: list[str]
    dynamic_batch: bool
    external_data: bool
    size_bytes: int
    seconds: float
    dynamo_error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings)."""
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def _summary(exc: BaseException, limit: int = 600) -> str:
    """The informative part of an exporter message: the exception summary, without colours."""
    text = _ANSI.sub("", str(exc)).strip() or type(exc).__name__
    if "## Exception summary" in text:
        text = text.split("## Exception summary", 1)[1]
        text = text.split("(Refer to the full stack trace", 1)[0]
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unsupported_op(*messages: str) -> str | None:
    """The first operator named as unsupported in exporter messages, as ``namespace::op``."""
    for pattern in _OP_PATTERNS:
        for message in messages:
            if m := pattern.search(message):
                return f"{m['ns']}::{m['op']}"
    return None


def _weights_bytes(model: Any) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def _files_size(path: Path) -> int:
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def _export_dynamo(model, inputs, path, names_in, names_out, dynamic, opset, external):
    torch = require("torch", "ONNX export")
    shapes = tuple({0: "batch"} if t.dim() else {} for t in inputs) if dynamic else None
    sink = io.StringIO()  # the dynamo exporter prints progress lines; keep the user's cell clean
    with contextlib.redirect_stdout(sink):
        program = torch.onnx.export(
            model,
            inputs,
            dynamo=True,
            input_names=names_in,
            output_names=names_out,
            opset_version=opset,
            dynamic_shapes=shapes,
            verbose=False,
            optimize=True,
        )
    program.save(path, external_data=external)


def _export_torchscript(model, inputs, path, names_in, names_out, dynamic, opset, external):
    torch = require("torch", "ONNX export")
    axes = {n: {0: "batch"} for n in names_in + names_out} if dynamic else None
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "You are using the legacy TorchScript", DeprecationWarning
        )
        torch.onnx.export(
            model,
            inputs,
            str(path),
            dynamo=False,
            input_names=names_in,
            output_names=names_out,
            opset_version=opset,
            dynamic_axes=axes,
        )
    if external:  # the TorchScript exporter only externalises above 2 GB; apply our threshold
        onnx = require("onnx", "ONNX export")
        proto = onnx.load(str(path))
        onnx.save_model(
            proto,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=path.name + ".data",
        )


def export(
    model: Any,
    example_input: Any,
    *,
    path: str | Path,
    dynamic_batch: bool = True,
    opset: int | None = None,
    exporter: Exporter = "auto",
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD,
) -> ExportResult:
    """Export a torch model to ONNX at ``path`` and check the file.

    ``exporter="auto"`` tries ``torch.onnx.export(..., dynamo=True)`` and falls back to the
    TorchScript exporter (``dynamo=False``) when it fails; ``"dynamo"``/``"torchscript"`` use
    only that one. The model runs in eval mode (its training flag is restored afterwards).

    Raises UsageError for a non-torch model or an example input the model rejects, and
    ExportError, naming the unsupported operator when the messages reveal it, when no exporter
    succeeds.

    >>> import torch, tempfile
    >>> mlp = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
    ...                           torch.nn.Linear(256, 10))
    >>> res = export(mlp, torch.randn(1, 64), path=tempfile.mkdtemp() + "/mlp.onnx")
    >>> res.exporter, res.input_names, res.dynamic_batch
    ('dynamo', ['input'], True)
    """
    if exporter not in ("auto", "dynamo", "torchscript"):
        raise UsageError(
            f"exporter={exporter!r} is not known; use 'auto', 'dynamo' or 'torchscript'."
        )
    onnx = require("onnx", "ONNX export")
    inputs, outputs = validate(model, example_input)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names_in, names_out = input_names(len(inputs)), output_names(len(outputs))
    external = _weights_bytes(model) > external_data_threshold
    opset_used = opset
    if opset_used is None:
        from torch.onnx._constants import ONNX_DEFAULT_OPSET as opset_used  # noqa: N811

    order = {
        "auto": ("dynamo", "torchscript"),
        "dynamo": ("dynamo",),
        "torchscript": ("torchscript",),
    }[exporter]
    steps = {"dynamo": _export_dynamo, "torchscript": _export_torchscript}
    errors: dict[str, str] = {}
    caught: list[str] = []
    used = None
    start = time.perf_counter()
    with eval_mode(model):
        for name in order:
            for stale in (path, path.with_name(path.name + ".data")):
                stale.unlink(missing_ok=True)
            start = time.perf_counter()
            try:
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    steps[name](
                        model,
                        inputs,
                        path,
                        names_in,
                        names_out,
                        dynamic_batch,
                        opset_used,
                        external,
                    )
            except Exception as exc:  # noqa: BLE001 - any exporter failure means: try the next
                errors[name] = _summary(exc)
                continue
            caught = sorted(
                {
                    f"{w.category.__name__}: {w.message}"
                    for w in seen
                    if not issubclass(w.category, DeprecationWarning | FutureWarning)
                }
            )
            used = name
            break
    seconds = time.perf_counter() - start

    if used is None:
        op = unsupported_op(*errors.values())
        what = f"the operator {op} is not supported by " if op else "no exporter could export it: "
        tried = "; ".join(f"[{k}] {v}" for k, v in errors.items())
        fix = (
            f"Replace {op} with standard torch ops, or register an ONNX translation for it "
            "(torch.onnx.export(custom_translation_table=...))"
            if op
            else "Simplify the failing code path (see the messages) or export a submodule"
        )
        raise ExportError(
            f"Could not export {type(model).__name__} to ONNX: {what}"
            f"{' and '.join(errors)}. {fix}. Exporter messages: {tried}"
        )

    onnx.checker.check_model(str(path))  # path form: works with external data and >2 GB
    header = onnx.load(str(path), load_external_data=False)
    opset_used = next(
        (o.version for o in header.opset_import if o.domain in ("", "ai.onnx")), opset_used
    )
    if used == "dynamo":
        reason = "the dynamo exporter (torch.export) succeeded"
    elif exporter == "torchscript":
        reason = "the TorchScript exporter was requested"
    else:
        reason = (
            f"the dynamo exporter failed, so the TorchScript exporter was used: {errors['dynamo']}"
        )
    return ExportResult(
        path=path,
        exporter=used,
        reason=reason,
        opset=int(opset_used),
        input_names=names_in,
        output_names=names_out,
        dynamic_batch=dynamic_batch,
        external_data=external,
        size_bytes=_files_size(path),
        seconds=seconds,
        dynamo_error=errors.get("dynamo"),
        warnings=caught,
    )
