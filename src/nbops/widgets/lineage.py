"""The lineage widget: the graph around a model version, run or dataset, drawn as SVG."""

from __future__ import annotations

from typing import Any

import traitlets

from nbops.widgets._base import ServiceWidget

__all__ = ["LineageWidget"]


class LineageWidget(ServiceWidget):
    """``graph`` holds ``{"nodes": [...], "edges": [...]}``; changing ``ref`` redraws it."""

    _view = traitlets.Unicode("lineage").tag(sync=True)
    ref = traitlets.Unicode("").tag(sync=True)
    direction = traitlets.Unicode("both").tag(sync=True)
    depth = traitlets.Int(3).tag(sync=True)
    graph = traitlets.Dict().tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.graph:  # given a graph (lineage_widget(graph)), draw exactly that one
            self.reload()

    @traitlets.observe("ref", "direction", "depth")
    def _on_query(self, change: dict[str, Any]) -> None:
        if self._ready:
            self.reload()

    def reload(self) -> None:
        if not self.ref:
            self.graph = {}
            return
        graph = self._call(lambda s: s.lineage(self.ref, self.direction, self.depth))
        self.graph = graph if graph is not None else {}
