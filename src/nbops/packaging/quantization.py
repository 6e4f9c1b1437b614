"""int8 quantization with onnxruntime.quantization.

The model is first pre-processed as onnxruntime recommends (``quant_pre_process``: symbolic and
ONNX shape inference plus graph optimisation), then quantized:

* ``"dynamic"``: weights int8, activations quantized at run time (``quantize_dynamic``); no data
  needed; best for MLP/transformer-style models dominated by MatMul/Gemm.
* ``"static"``: weights and activations int8 in QDQ format (``quantize_static``), activation
  ranges calibrated on ``calibration_inputs``; best for CNNs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from nbops.exceptions import PackagingError, UsageError

from ._deps import require

__all__ = ["quantize"]

Mode = Literal["dynamic", "static"]


def _has_external_data(path: Path) -> bool:
    return path.with_name(path.name + ".data").exists()


class _Calibration:
    """A CalibrationDataReader over a list of input feeds."""

    def __init__(self, feeds: list[dict[str, Any]]) -> None:
        self._feeds = feeds
        self._it = iter(feeds)

    def get_next(self) -> dict[str, Any] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._feeds)

    def __len__(self) -> int:
        return len(self._feeds)


def _feeds(path: Path, calibration_inputs: Iterable[Any]) -> list[dict[str, Any]]:
    ort = require("onnxruntime", "static quantization")
    names = [
        i.name
        for i in ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()
    ]
    feeds = []
    for item in calibration_inputs:
        items = item if isinstance(item, tuple | list) else (item,)
        arrays = [t.detach().cpu().numpy() if hasattr(t, "detach") else t for t in items]
        if len(arrays) != len(names):
            raise UsageError(
                f"Each calibration input must hold {len(names)} arrays for inputs "
                f"{names}; got {len(arrays)}."
            )
        feeds.append(dict(zip(names, arrays, strict=True)))
    if not feeds:
        raise UsageError(
            "calibration_inputs is empty. Pass a few hundred representative rows, "
            "e.g. 8 batches from the validation set."
        )
    return feeds


def quantize(
    onnx_path: str | Path,
    mode: Mode = "dynamic",
    calibration_inputs: Iterable[Any] | None = None,
    *,
    output_path: str | Path | None = None,
    per_channel: bool = False,
    preprocess: bool = True,
) -> Path:
    """Quantize an fp32 ONNX file to int8 and return the new file's path
    (default: ``<name>.int8.onnx`` next to the input).

    >>> int8_path = quantize("model.onnx")                                   # doctest: +SKIP
    >>> int8_path = quantize("cnn.onnx", "static", [torch.randn(16, 3, 32, 32)])  # doctest: +SKIP
    """
    if mode not in ("dynamic", "static"):
        raise UsageError(f"mode={mode!r} is not known; use 'dynamic' or 'static'.")
    if mode == "static" and calibration_inputs is None:
        raise UsageError(
            "Static quantization needs calibration_inputs (an iterable of example "
            "batches); pass them or use mode='dynamic'."
        )
    q = require("onnxruntime.quantization", f"{mode} int8 quantization")
    src = Path(onnx_path)
    if not src.is_file():
        raise UsageError(f"No ONNX file at {src}; export the model first.")
    out = Path(output_path) if output_path else src.with_name(src.stem + ".int8.onnx")
    external = _has_external_data(src)

    model_in = src
    if preprocess:
        pre = src.with_name(src.stem + ".pre.onnx")
        try:
            q.quant_pre_process(
                str(src),
                str(pre),
                save_as_external_data=external,
                all_tensors_to_one_file=True,
                external_data_location=pre.name + ".data" if external else None,
            )
            model_in = pre
        except Exception as exc:  # noqa: BLE001 - pre-processing is an optimisation only
            warnings.warn(
                f"onnxruntime quant_pre_process failed ({exc}); quantizing the model without it.",
                stacklevel=2,
            )
    try:
        if mode == "dynamic":
            q.quantize_dynamic(
                str(model_in),
                str(out),
                per_channel=per_channel,
                weight_type=q.QuantType.QInt8,
                use_external_data_format=external,
            )
        else:
            reader = _Calibration(_feeds(src, calibration_inputs))
            q.quantize_static(
                str(model_in),
                str(out),
                reader,
                quant_format=q.QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=q.QuantType.QUInt8,
                weight_type=q.QuantType.QInt8,
                use_external_data_format=external,
            )
    except UsageError:
        raise
    except Exception as exc:
        raise PackagingError(
            f"onnxruntime could not {mode}-quantize {src.name}: {exc}. Try the other mode, "
            "or keep the fp32 model."
        ) from exc
    finally:
        if model_in != src:
            model_in.unlink(missing_ok=True)
            model_in.with_name(model_in.name + ".data").unlink(missing_ok=True)
    return out
