"""``nbops.output(name, value)``: a notebook records a step output for downstream steps.

Inside a pipeline step (``nbops run``), the runner sets ``NBOPS_OUTPUTS_FILE`` in the kernel;
each call appends one JSON line to it, and the runner turns them into the step's outputs
(``{{ steps.<step>.outputs.<name> }}`` in later steps' parameters) and ``nbops.output.<name>``
tags on the step run. When an nbops run is active (a ``%%track`` cell), the call also tags
that run. Outside a pipeline, with no active run, it records nothing and returns: the same
notebook runs unchanged in JupyterLab.

    >>> import nbops
    >>> nbops.output("train_path", "data/train.csv")   # doctest: +SKIP

A string naming an existing file or folder (or a ``pathlib.Path``) is recorded as an absolute
path, so steps in other folders can read it, and the cache checks it still exists.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from nbops.config import OUTPUTS_FILE_VAR, kernel_context
from nbops.exceptions import UsageError

__all__ = ["OUTPUTS_ENV", "output", "read_outputs"]

#: The environment variable naming the file ``output()`` appends to.
OUTPUTS_ENV = OUTPUTS_FILE_VAR
MAX_OUTPUT_CHARS = 5000  # an output is stored as an MLflow tag
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def output(name: str, value: Any) -> None:
    """Record the step output ``name`` (a JSON-serializable value or a path)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(f"nbops.output name {name!r} must be an identifier (letters, digits, _), "
                         "as it is referenced as {{ steps.<step>.outputs.<name> }}.")
    kind = "value"
    if isinstance(value, os.PathLike) or (isinstance(value, str) and value and "\n" not in value
                                          and len(value) < 4096 and Path(value).exists()):
        value, kind = str(Path(value).resolve()), "path"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        raise UsageError(f"nbops.output({name!r}, ...) got a {type(value).__name__}, which is not "
                         "JSON-serializable. Record a number, string, list or dict, or save the "
                         "object to a file and record its path.") from None
    if len(text) > MAX_OUTPUT_CHARS:
        raise UsageError(f"nbops.output({name!r}, ...) is {len(text)} characters as JSON; the "
                         f"limit is {MAX_OUTPUT_CHARS}. Save it to a file and record the path.")
    record = {"name": name, "value": value, "kind": kind}
    target = kernel_context().outputs_file
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    if "nbops.tracking.tracker" in sys.modules:  # no run is active if tracking was never used
        from nbops.tracking.tracker import Tracker

        run = Tracker.active()
        if run is not None:
            run.set_tags({f"nbops.output.{name}": text})


def read_outputs(path: str | Path) -> dict[str, dict[str, Any]]:
    """The outputs recorded in ``path``: ``{name: {"value": ..., "kind": "value"|"path"}}``.

    A name recorded twice keeps its last value; a missing file means no outputs.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    found: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            found[rec["name"]] = {"value": rec["value"], "kind": rec.get("kind", "value")}
    return found
