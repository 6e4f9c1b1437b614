"""What a run accepts: metric values, param values, key names and artifact objects.

Each function validates first and names the bad value and what to pass instead
(:class:`~nbops.exceptions.UsageError`); nothing here logs anything.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbops.exceptions import UsageError
from nbops.tracking.capture import param_value

__all__ = ["MAX_KEY_LENGTH", "MAX_PARAM_LENGTH", "check_key", "coerce_metric", "param_text",
           "serializer"]

MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
MAX_KEY_LENGTH = 250
_KEY_RE = re.compile(r"^[/\w.\- :]+$")


def check_key(key: Any, what: str) -> None:
    """Refuse a metric, param or tag name MLflow would refuse (``what`` says which)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not _KEY_RE.match(key):
        raise UsageError(
            f"{what} name {key!r} is not valid in MLflow: use up to {MAX_KEY_LENGTH} letters, "
            "digits, and _ - . / : or spaces."
        )


def coerce_metric(key: str, value: Any) -> Any:
    """A metric value MLflow takes: bools and numpy scalars become numbers; a one-element torch
    tensor is kept (detached) and read later, in bulk, off the caller's path."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    mod = type(value).__module__
    if mod.startswith("torch") and hasattr(value, "numel"):
        if value.numel() == 1:
            return value.detach()
        raise UsageError(f"metric {key!r} is a tensor of shape {tuple(value.shape)}; log a "
                         "single value (e.g. loss.mean()).")
    if mod.startswith("numpy") and getattr(value, "size", None) == 1:
        return float(value)
    raise UsageError(
        f"metric {key!r} got a {type(value).__name__} ({value!r:.60}); metrics are numbers: "
        "int, float, numpy scalars or one-element torch tensors. Log text as a tag or artifact."
    )


def param_text(key: str, value: Any) -> str:
    """The text of a param value; an object whose repr carries no value is refused."""
    if isinstance(value, str | int | float | bool | type(None) | list | tuple | dict | set):
        return param_value(value)
    text = repr(value)
    if re.search(r" at 0x[0-9a-f]+>$", text):
        raise UsageError(
            f"param {key!r} is a {type(value).__name__} object with no readable value. Log a "
            "number or string instead, or the object itself with nbops.log_artifact()."
        )
    return text


def serializer(obj: Any, name: str | None) -> tuple[str, Callable[[Path], Any]]:
    """``(artifact file, writer)`` for an object given to ``log_artifact``."""
    kind = type(obj)
    mod = kind.__module__
    if mod.startswith("matplotlib") and hasattr(obj, "savefig"):
        return name or "figures/figure.png", lambda p: obj.savefig(p, dpi=100)
    if isinstance(obj, dict | list):
        import json

        return name or "data.json", lambda p: p.write_text(json.dumps(obj, indent=2, default=str))
    if mod.startswith("pandas") and hasattr(obj, "to_csv"):
        return name or "table.csv", lambda p: obj.to_csv(p)
    if mod.startswith("numpy") and hasattr(obj, "tofile"):
        import numpy as np

        return name or "array.npy", lambda p: np.save(p, obj)
    if isinstance(obj, str) and name:
        return name, lambda p: p.write_text(obj, encoding="utf-8")
    if isinstance(obj, bytes):
        return name or "data.bin", lambda p: p.write_bytes(obj)
    raise UsageError(
        f"log_artifact cannot serialize a {kind.__name__}. Pass a file or folder path, a "
        "matplotlib figure, a dict or list, a pandas DataFrame, a numpy array, bytes, or a str "
        "with name=..."
    )
