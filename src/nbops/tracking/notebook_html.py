"""Notebooks logged as HTML pages: rendered when they are shipped, not when they are logged.

Rendering a notebook with nbconvert costs about a second of CPU the first time in a process
(importing nbconvert and compiling its templates). :meth:`~nbops.tracking.handle.Run.log_notebook_html`
only stages the notebook; whoever ships the run (this process's tracking thread, or the
background ``nbops sync`` that takes over at exit) renders it then, so the caller, e.g. a
pipeline step that just ended, never waits for it.
"""

from __future__ import annotations

import sys

__all__ = ["notebook_html", "skip_iri_grammar"]


def notebook_html(notebook_json: str) -> str:
    """The notebook rendered as a standalone HTML page (nbconvert's HTMLExporter)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.reads(notebook_json, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


def skip_iri_grammar() -> None:
    """Leave out jsonschema's optional IRI format checker in this process.

    papermill and nbconvert import nbformat, which imports jsonschema, which imports
    ``rfc3987_syntax`` when it is installed: that compiles a grammar at import, 1 to 3 s of
    CPU here, more than everything else a pipeline worker imports. nbformat never checks that
    format (it validates without a format checker), and jsonschema skips the checker when the
    module cannot be imported. Called only in processes nbops owns (its worker processes, the
    ``nbops run`` and ``nbops sync`` commands), never in a user's interpreter.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
