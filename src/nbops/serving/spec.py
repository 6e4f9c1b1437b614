"""Request bodies in MLflow's scoring formats, checked against the model's inputs.

    {"inputs": [[...], ...]}                       one tensor (or {"name": [[...]], ...})
    {"instances": [[...], ...]}                    the same (TensorFlow Serving's word)
    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
    {"dataframe_records": [{"col": v, ...}, ...]}

Every refusal is a :class:`RequestError` naming the field that was wrong (``inputs[2][5]``,
``dataframe_split.columns``) and what the model expects, answered as HTTP 400 (413 for a body
over the size limit).

Example:
    >>> import numpy as np
    >>> spec = InputSpec((TensorInput("x", np.dtype("float32"), (-1, 2)),))
    >>> spec.parse({"inputs": [[1, 2]]})["x"].shape
    (1, 2)
    >>> spec.parse({"inputs": [[1, "a"]]})
    Traceback (most recent call last):
    ...
    nbops.serving.spec.RequestError: inputs[0][1]: expected a number (float32), got 'a'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nbops.exceptions import UsageError

__all__ = ["FORMATS", "InputSpec", "RequestError", "TensorInput"]

FORMATS = ("inputs", "instances", "dataframe_split", "dataframe_records")


class RequestError(UsageError):
    """A request the model cannot take: ``field`` names the bad part, ``status`` the HTTP code."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.status = status


@dataclass(frozen=True)
class TensorInput:
    """One model input: its name, numpy dtype and shape (-1 for a dimension of any size)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"{self.dtype.name} shape {list(self.shape)}"


@dataclass(frozen=True)
class InputSpec:
    """The inputs a model takes; ``columns`` names the features when the signature has them."""

    inputs: tuple[TensorInput, ...]
    columns: tuple[str, ...] | None = None

    def example(self) -> dict[str, np.ndarray]:
        """Zero inputs of batch size 1, to warm a freshly loaded model."""
        return {t.name: np.zeros(tuple(1 if d < 0 else d for d in t.shape), t.dtype)
                for t in self.inputs}

    def parse(self, payload: Any) -> dict[str, np.ndarray]:
        """The model's feeds from a decoded JSON body, or :class:`RequestError`."""
        if not isinstance(payload, dict):
            raise RequestError("body", f"expected a JSON object with one of the keys "
                               f"{', '.join(FORMATS)}; got a JSON {_kind(payload)}.")
        keys = [k for k in FORMATS if k in payload]
        if len(keys) != 1:
            found = f"it has {', '.join(keys)}" if keys else \
                f"it has {', '.join(sorted(map(str, payload))) or 'no keys'}"
            raise RequestError("body", f"expected exactly one of the keys {', '.join(FORMATS)}; "
                               f"{found}. Example: {{\"inputs\": [[0.1, 0.2, ...]]}}.")
        key = keys[0]
        data = payload[key]
        if key == "dataframe_split":
            return {self.inputs[0].name: self._frame_split(data)} if self._one() else {}
        if key == "dataframe_records":
            return {self.inputs[0].name: self._frame_records(data)} if self._one() else {}
        if isinstance(data, dict):
            missing = [t.name for t in self.inputs if t.name not in data]
            if missing:
                raise RequestError(f"{key}.{missing[0]}", f"missing; the model takes the inputs "
                                   f"{', '.join(t.name for t in self.inputs)}.")
            unknown = sorted(set(data) - {t.name for t in self.inputs})
            if unknown:
                raise RequestError(f"{key}.{unknown[0]}", f"the model has no such input; it takes "
                                   f"{', '.join(t.name for t in self.inputs)}.")
            return {t.name: _tensor(data[t.name], t, f"{key}.{t.name}") for t in self.inputs}
        if len(self.inputs) != 1:
            raise RequestError(key, f"the model takes {len(self.inputs)} named inputs; send "
                               f"{{\"{key}\": {{{', '.join(repr(t.name) for t in self.inputs)}: "
                               "...}}.")
        return {self.inputs[0].name: _tensor(data, self.inputs[0], key)}

    def _one(self) -> bool:
        if len(self.inputs) != 1:
            raise RequestError("body", "dataframe formats fit models with one input; this one "
                               f"takes {', '.join(t.name for t in self.inputs)}: send "
                               "{\"inputs\": {name: array, ...}}.")
        return True

    def _width(self) -> int | None:
        shape = self.inputs[0].shape
        return shape[1] if len(shape) == 2 and shape[1] > 0 else None

    def _frame_split(self, data: Any) -> np.ndarray:
        if not isinstance(data, dict) or "data" not in data:
            raise RequestError("dataframe_split", "expected {\"columns\": [...], \"data\": "
                               f"[[...], ...]}}; got a JSON {_kind(data)}"
                               f"{' without data' if isinstance(data, dict) else ''}.")
        columns = data.get("columns")
        rows = data["data"]
        if columns is not None:
            columns = [str(c) for c in columns]
            self._check_columns(columns, "dataframe_split.columns")
            if self.columns:
                order = [columns.index(c) for c in self.columns]
                if order != list(range(len(order))) and isinstance(rows, list):
                    rows = [[r[i] for i in order] if isinstance(r, list) else r for r in rows]
        return _tensor(rows, self.inputs[0], "dataframe_split.data")

    def _frame_records(self, data: Any) -> np.ndarray:
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise RequestError("dataframe_records", "expected a list of {column: value} "
                               f"objects; got a JSON {_kind(data)}.")
        columns = list(self.columns or (data[0].keys() if data else []))
        for i, record in enumerate(data):
            self._check_columns(list(record), f"dataframe_records[{i}]")
        return _tensor([[r[c] for c in columns] for r in data], self.inputs[0],
                       "dataframe_records")

    def _check_columns(self, columns: list[str], field: str) -> None:
        if self.columns:
            missing = [c for c in self.columns if c not in columns]
            if missing:
                raise RequestError(field, f"missing column {missing[0]!r}; the model takes "
                                   f"{', '.join(self.columns)}.")
            return
        width = self._width()
        if width is not None and len(columns) != width:
            raise RequestError(field, f"expected {width} columns, got {len(columns)}.")


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


def _tensor(data: Any, spec: TensorInput, field: str) -> np.ndarray:
    """``data`` as an array of the input's dtype and shape, or the first bad element named."""
    if not isinstance(data, list):
        raise RequestError(field, f"expected an array ({spec.describe()}); got a JSON "
                           f"{_kind(data)}.")
    try:
        array = np.asarray(data, dtype=spec.dtype)
    except (ValueError, TypeError):
        raise _first_bad(data, spec, field) from None
    if array.ndim != len(spec.shape):
        hint = " (a batch: wrap one example in a list)" if array.ndim == len(spec.shape) - 1 else ""
        raise RequestError(field, f"expected {len(spec.shape)} dimensions "
                           f"({spec.describe()}){hint}; got shape {list(array.shape)}.")
    for axis, (want, got) in enumerate(zip(spec.shape, array.shape, strict=True)):
        if want >= 0 and want != got:
            where = "values per row" if axis == 1 else f"entries on axis {axis}"
            raise RequestError(field, f"expected {want} {where} ({spec.describe()}); got "
                               f"shape {list(array.shape)}.")
    if array.shape[0] == 0:
        raise RequestError(field, "is empty; send at least one example.")
    return array


def _first_bad(data: Any, spec: TensorInput, field: str) -> RequestError:
    """The first element that is not a number, or the first row of another length."""
    numeric = spec.dtype.kind in "fiub"

    def walk(node: Any, path: str, depth: int) -> RequestError | None:
        if isinstance(node, list):
            lengths = {len(x) for x in node if isinstance(x, list)}
            if len(lengths) > 1 or (lengths and len(lengths) == 1 and
                                    any(not isinstance(x, list) for x in node)):
                first = len(node[0]) if isinstance(node[0], list) else "a scalar"
                for i, x in enumerate(node):
                    size = len(x) if isinstance(x, list) else "a scalar"
                    if size != first:
                        return RequestError(f"{path}[{i}]", f"has {size} values where "
                                            f"{path}[0] has {first}; every row must have the "
                                            f"same length ({spec.describe()}).")
            for i, x in enumerate(node):
                found = walk(x, f"{path}[{i}]", depth + 1)
                if found:
                    return found
            return None
        if numeric and (isinstance(node, bool) or not isinstance(node, int | float)):
            return RequestError(path, f"expected a number ({spec.dtype.name}), got "
                                f"{node!r}.")
        return None

    return walk(data, field, 0) or RequestError(field, f"cannot be read as {spec.describe()}.")
