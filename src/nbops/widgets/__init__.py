"""Notebook widgets (anywidget; no JupyterLab build step): the registry browser and lineage.

    >>> from nbops.widgets import registry_browser, lineage_widget  # doctest: +SKIP
    >>> registry_browser()                 # the "Models" sidebar, inside a notebook
    >>> lineage_widget("churn@champion")   # the lineage picture of a model version
    >>> lineage_widget(nbops.lineage("churn/2"))  # a graph already queried, drawn as it is
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.registry.lineage import LineageGraph
    from nbops.widgets.lineage import LineageWidget
    from nbops.widgets.registry import RegistryBrowser

__all__ = ["lineage_widget", "registry_browser"]


def registry_browser(search: str = "", **kwargs: Any) -> RegistryBrowser:
    """A widget listing registered models; click one for versions, status, lineage, history."""
    from nbops.widgets.registry import RegistryBrowser

    return RegistryBrowser(search=search, **kwargs)


def lineage_widget(ref: str | LineageGraph, direction: str = "both", depth: int = 3,
                   **kwargs: Any) -> LineageWidget:
    """A widget drawing the lineage graph around ``ref`` (``churn@prod``, ``churn/3``, a run id).

    Given a :class:`~nbops.registry.LineageGraph` (``nbops.lineage(...)``), it draws that very
    graph, labels and depth included, and queries again only when its ref, direction or depth
    is changed in the widget.
    """
    from nbops.widgets.lineage import LineageWidget

    if isinstance(ref, str):
        return LineageWidget(ref=ref, direction=direction, depth=depth, **kwargs)
    from nbops.registry.service import lineage_payload

    kind, _, rest = ref.root.partition(":")
    return LineageWidget(ref=ref.root if kind == "dataset" else rest, direction=ref.direction,
                         depth=ref.depth if ref.depth is not None else 10,
                         graph=lineage_payload(ref), **kwargs)
