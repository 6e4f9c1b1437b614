"""onnxruntime sessions: provider choice, session options, and the thin ``OnnxPredictor``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nbops.exceptions import NotFoundError, UsageError

from ._deps import require

__all__ = ["OnnxPredictor", "load", "make_session", "select_providers", "session_info"]


def _gpu_present() -> bool:
    try:
        import torch
    except ImportError:
        return os.path.exists("/dev/nvidiactl")
    return bool(torch.cuda.is_available())


def select_providers() -> list[str]:
    """``CUDAExecutionProvider`` (then CPU) when onnxruntime has it and a GPU is present, else CPU."""
    ort = require("onnxruntime", "ONNX inference")
    if "CUDAExecutionProvider" in ort.get_available_providers() and _gpu_present():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def make_session(
    path: str | Path, *, providers: Sequence[str] | None = None, threads: int | None = None
) -> Any:
    """An ``onnxruntime.InferenceSession`` with all graph optimisations on.

    ``threads`` sets intra-op threads (``None``/0: onnxruntime's default, one per physical core).
    """
    ort = require("onnxruntime", "ONNX inference")
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(
            f"No ONNX file at {path}. Export one first with "
            "nbops.packaging.export(model, example_input, path=...)."
        )
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.log_severity_level = 3
    return ort.InferenceSession(
        str(path), sess_options=opts, providers=list(providers or select_providers())
    )


def session_info(session: Any) -> dict[str, Any]:
    """The settings a benchmark must report: providers, threads, optimisation level, mode."""
    opts = session.get_session_options()
    return {
        "providers": list(session.get_providers()),
        "intra_op_num_threads": opts.intra_op_num_threads,
        "inter_op_num_threads": opts.inter_op_num_threads,
        "graph_optimization_level": str(opts.graph_optimization_level).split(".")[-1],
        "execution_mode": str(opts.execution_mode).split(".")[-1],
    }


class OnnxPredictor:
    """A thin wrapper over one ``InferenceSession``: names are resolved once, ``predict`` is a
    dict build plus ``session.run``.

    >>> import numpy as np
    >>> p = load("model.onnx")                                   # doctest: +SKIP
    >>> p.predict(np.zeros((1, 64), np.float32)).shape           # doctest: +SKIP
    (1, 10)
    """

    __slots__ = (
        "_first",
        "_ndarray",
        "_run",
        "_single_out",
        "input_names",
        "output_names",
        "path",
        "session",
    )

    def __init__(self, session: Any, path: str | Path | None = None) -> None:
        import numpy

        self.session = session
        self.path = Path(path) if path is not None else None
        self.input_names: tuple[str, ...] = tuple(i.name for i in session.get_inputs())
        self.output_names: list[str] = [o.name for o in session.get_outputs()]
        self._first = self.input_names[0]
        self._single_out = len(self.output_names) == 1
        self._ndarray = numpy.ndarray
        self._run = session.run

    def predict(self, inputs: Any) -> Any:
        """Run the model.

        ``inputs``: one numpy array (single-input models), a tuple/list of arrays in input
        order, or a dict ``{input_name: array}``; torch tensors are converted. Returns one array
        for single-output models, else a list in output order.
        """
        kind = type(inputs)
        if kind is self._ndarray:  # the hot path: one dict, one run
            out = self._run(self.output_names, {self._first: inputs})
        elif kind is dict:
            out = self._run(self.output_names, inputs)
        else:
            out = self._run(self.output_names, self._feeds(inputs))
        return out[0] if self._single_out else out

    def _feeds(self, inputs: Any) -> dict[str, Any]:
        if type(inputs) in (tuple, list):
            if len(inputs) != len(self.input_names):
                raise UsageError(
                    f"The model takes {len(self.input_names)} inputs "
                    f"{list(self.input_names)} but got {len(inputs)}; pass them in order."
                )
            return dict(zip(self.input_names, map(_array, inputs), strict=True))
        return {self._first: _array(inputs)}

    __call__ = predict

    def __repr__(self) -> str:
        return (
            f"OnnxPredictor(path={str(self.path)!r}, inputs={list(self.input_names)}, "
            f"outputs={self.output_names}, providers={self.session.get_providers()})"
        )


def _array(x: Any) -> Any:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def load(
    path: str | Path, *, providers: Sequence[str] | None = None, threads: int | None = None
) -> OnnxPredictor:
    """Load an ONNX file for inference.

    >>> import numpy as np
    >>> predictor = load("model.onnx")                           # doctest: +SKIP
    >>> predictor.predict(np.random.rand(1, 64).astype("float32"))  # doctest: +SKIP
    """
    return OnnxPredictor(make_session(path, providers=providers, threads=threads), path)


def feeds_for(session: Any, inputs: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """Name positional inputs with the session's input names."""
    if isinstance(inputs, Mapping):
        return dict(inputs)
    names = [i.name for i in session.get_inputs()]
    return dict(zip(names, map(_array, inputs), strict=True))
