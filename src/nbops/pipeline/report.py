"""Failure reports of a step (which cell failed, how) and HTML renderings of notebooks."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from nbops.store import tags as T

__all__ = ["Failure", "running_cell", "user_cell_index"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): ?(.*)$")
ERROR_MARKER = "papermill-error-cell-tag"  # papermill's error banners (stale ones in an input)
INJECTED = "injected-parameters"


@dataclass
class Failure:
    """Why a step attempt failed.

    ``kind`` is ``cell_error`` (a cell raised), ``timeout`` (the step ran past its ``timeout``),
    ``dead_kernel`` (the kernel process died), ``missing_output`` (a declared output was not
    recorded) or ``error`` (anything else: the kernel did not start, an input is missing).
    ``cell_index`` is the index of the failing cell in the notebook the user wrote (None for
    papermill's injected parameters cell).
    """

    kind: str
    message: str
    cell_index: int | None = None
    exec_count: int | None = None
    source: str | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)

    @classmethod
    def from_papermill(cls, exc: Any, executed: str | None = None,
                       notebook: str | None = None) -> Failure:
        """From a ``papermill.PapermillExecutionError``; ``executed`` is papermill's output
        notebook and ``notebook`` the step's own (both JSON), to report the cell's index in the
        latter and, for an error raised without an error output (an IPython ``UsageError``),
        the message the cell wrote to stderr."""
        ename, evalue = exc.ename, exc.evalue
        traceback = [_ANSI.sub("", line) for line in exc.traceback or []]
        ran = _executed_cells(executed)
        cell = ran[exc.cell_index] if ran and 0 <= exc.cell_index < len(ran) else None
        if not evalue and cell is not None:
            stderr = _ANSI.sub("", "".join(
                "".join(o.get("text", "")) for o in cell.get("outputs", [])
                if o.get("output_type") == "stream" and o.get("name") == "stderr")).strip()
            if stderr:
                last = stderr.splitlines()[-1]
                match = _ERROR_LINE.match(last)
                ename, evalue = (match[1], match[2]) if match else (ename, last)
                traceback = traceback or stderr.splitlines()
        index = user_cell_index(ran, notebook, exc.cell_index) if ran and notebook else \
            exc.cell_index
        return cls(kind="cell_error", message=f"{ename}: {evalue}", cell_index=index,
                   exec_count=exc.exec_count, source=exc.source, ename=ename, evalue=evalue,
                   traceback=traceback)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def tags(self) -> dict[str, str]:
        """The ``nbops.failure.*`` tags set on the step run."""
        tags = {T.FAILURE_KIND: self.kind, T.FAILURE_MESSAGE: self.message[:5000]}
        if self.cell_index is not None:
            tags[T.FAILURE_CELL_INDEX] = str(self.cell_index)
        if self.ename:
            tags[T.FAILURE_ENAME] = self.ename
        return tags

    def format(self, step: str = "") -> str:
        """A plain-text report: what failed, the failing cell's source and the traceback."""
        head = f"step {step!r} failed" if step else "step failed"
        lines = [f"{head}: {self.message}"]
        if self.cell_index is not None:
            count = f" (In [{self.exec_count}])" if self.exec_count is not None else ""
            lines.append(f"failing cell: index {self.cell_index}{count}")
        if self.source:
            lines += ["--- cell source ---", self.source.rstrip()]
        if self.traceback:
            lines += ["--- traceback ---", "\n".join(self.traceback).rstrip()]
        return "\n".join(lines) + "\n"


def _tags(cell: dict[str, Any]) -> list[str]:
    return (cell.get("metadata") or {}).get("tags") or []


def _executed_cells(executed: str | None) -> list[dict[str, Any]]:
    """The cells papermill ran: its output notebook without its error banners."""
    if not executed:
        return []
    try:
        cells = json.loads(executed).get("cells", [])
    except ValueError:
        return []
    return [c for c in cells if ERROR_MARKER not in _tags(c)]


def user_cell_index(ran: list[dict[str, Any]], notebook: str, index: int) -> int | None:
    """The index, in the user's ``notebook`` (JSON), of cell ``index`` of the cells papermill
    ran (the user's cells without stale error banners, plus the injected parameters cell);
    None for the injected cell."""
    if not 0 <= index < len(ran) or INJECTED in _tags(ran[index]):
        return None
    k = sum(1 for c in ran[:index] if INJECTED not in _tags(c))
    own = [i for i, c in enumerate(json.loads(notebook).get("cells", []))
           if ERROR_MARKER not in _tags(c)]
    return own[k] if k < len(own) else None


def running_cell(executed: str | None, notebook: str) -> tuple[int | None, str | None]:
    """``(index in the user's notebook, source)`` of the cell that was running when the
    execution was stopped: the last cell papermill started (``metadata.papermill.start_time``),
    or ``(None, None)``."""
    ran = _executed_cells(executed)
    started = [i for i, c in enumerate(ran)
               if (c.get("metadata") or {}).get("papermill", {}).get("start_time")]
    if not started:
        return None, None
    source = ran[started[-1]].get("source", "")
    return user_cell_index(ran, notebook, started[-1]), \
        "".join(source) if isinstance(source, list) else source
