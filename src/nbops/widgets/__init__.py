"""Notebook widgets (anywidget; no JupyterLab build step): the registry browser and lineage.

    >>> from nbops.widgets import registry_browser, lineage_widget  # doctest: +SKIP
    >>> registry_browser()                 # the "Models" sidebar, inside a notebook
    >>> lineage_widget("churn@champion")   # the lineage picture of a model version
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.widgets.lineage import LineageWidget
    from nbops.widgets.registry import RegistryBrowser

__all__ = ["lineage_widget", "registry_browser"]


def registry_browser(search: str = "", **kwargs: Any) -> RegistryBrowser:
    """A widget listing registered models; click one for versions, status, lineage, history."""
    from nbops.widgets.registry import RegistryBrowser

    return RegistryBrowser(search=search, **kwargs)


def lineage_widget(ref: str, direction: str = "both", depth: int = 3,
                   **kwargs: Any) -> LineageWidget:
    """A widget drawing the lineage graph around ``ref`` (``churn@prod``, ``churn/3``, a run id)."""
    from nbops.widgets.lineage import LineageWidget

    return LineageWidget(ref=ref, direction=direction, depth=depth, **kwargs)
