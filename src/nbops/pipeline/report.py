"""Failure reports of a step (which cell failed, how) and HTML renderings of notebooks."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Failure", "render_html"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Failure:
    """Why a step attempt failed.

    ``kind`` is ``cell_error`` (a cell raised), ``timeout`` (the step ran past its ``timeout``),
    ``dead_kernel`` (the kernel process died), ``missing_output`` (a declared output was not
    recorded) or ``error`` (anything else: the kernel did not start, an input is missing).
    ``cell_index`` counts every cell of the executed notebook, papermill's injected
    parameters cell included.
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
    def from_papermill(cls, exc: Any) -> Failure:
        """From a ``papermill.PapermillExecutionError``."""
        return cls(kind="cell_error", message=f"{exc.ename}: {exc.evalue}",
                   cell_index=exc.cell_index, exec_count=exc.exec_count, source=exc.source,
                   ename=exc.ename, evalue=exc.evalue,
                   traceback=[_ANSI.sub("", line) for line in exc.traceback or []])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def tags(self) -> dict[str, str]:
        """The ``nbops.failure.*`` tags set on the step run."""
        tags = {"nbops.failure.kind": self.kind, "nbops.failure.message": self.message[:5000]}
        if self.cell_index is not None:
            tags["nbops.failure.cell_index"] = str(self.cell_index)
        if self.ename:
            tags["nbops.failure.ename"] = self.ename
        return tags

    def format(self, step: str = "") -> str:
        """A plain-text report: what failed, the failing cell's source and the traceback."""
        head = f"step {step!r} failed" if step else "step failed"
        lines = [f"{head}: {self.message}"]
        if self.cell_index is not None:
            lines.append(f"failing cell: index {self.cell_index} (In [{self.exec_count}])")
        if self.source:
            lines += ["--- cell source ---", self.source.rstrip()]
        if self.traceback:
            lines += ["--- traceback ---", "\n".join(self.traceback).rstrip()]
        return "\n".join(lines) + "\n"


def render_html(notebook_json: str) -> str:
    """The notebook rendered as a standalone HTML page (nbconvert's HTMLExporter)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.reads(notebook_json, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    return body
