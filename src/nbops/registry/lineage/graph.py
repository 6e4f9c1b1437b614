"""The lineage graph: nodes, edges and the queries and renderings of a built graph.

A :class:`LineageGraph` is plain data; :func:`nbops.registry.lineage` fills one from MLflow and
:mod:`nbops.registry.lineage.render` draws it (text, JSON, Mermaid, DOT, SVG).

Example:
    >>> g = LineageGraph(root="run:a")
    >>> g.add_node(Node("run:a", "run", "train")); g.add_node(Node("dataset:d@1", "dataset", "d@1"))
    >>> g.add_edge(Edge("dataset:d@1", "run:a", "input"))
    >>> [n.id for n in g.upstream()]
    ['dataset:d@1']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbops.exceptions import UsageError, closest

__all__ = ["Edge", "LineageGraph", "Node"]



@dataclass(frozen=True)
class Node:
    """A node: ``id`` names the backing entity (``run:<run id>``, ``model:<name>/<version>``,
    ``dataset:<name>@<digest>``), ``kind`` is a registered node kind."""

    id: str
    kind: str
    label: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "attrs": self.attrs}


@dataclass(frozen=True)
class Edge:
    """``source`` is upstream of ``target`` (data flows source → target)."""

    source: str
    target: str
    relation: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target, "relation": self.relation}


@dataclass
class LineageGraph:
    """The result of :func:`lineage`: nodes by id, edges, and the query that built it.

    Renders as text, JSON, Mermaid, Graphviz DOT and SVG; shows as a picture in Jupyter.
    """

    root: str
    direction: str = "both"
    depth: int | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    truncated: bool = False
    _edge_keys: set[Edge] = field(default_factory=set, repr=False, compare=False)

    def add_node(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge) -> None:
        if edge not in self._edge_keys:
            self._edge_keys.add(edge)
            self.edges.append(edge)

    # -- queries on the built graph ----------------------------------------------------------
    def nodes_of(self, kind: str) -> list[Node]:
        """Nodes of one kind, by id."""
        return sorted((n for n in self.nodes.values() if n.kind == kind), key=lambda n: n.id)

    def parents(self, node_id: str) -> list[Node]:
        """Direct upstream neighbours of ``node_id``."""
        return [self.nodes[e.source] for e in self.edges if e.target == node_id]

    def children(self, node_id: str) -> list[Node]:
        """Direct downstream neighbours of ``node_id``."""
        return [self.nodes[e.target] for e in self.edges if e.source == node_id]

    def upstream(self, node_id: str | None = None) -> list[Node]:
        """Every node ``node_id`` (default: the root) depends on, by id."""
        return self._reach(node_id or self.root, lambda e: (e.target, e.source))

    def downstream(self, node_id: str | None = None) -> list[Node]:
        """Every node that depends on ``node_id`` (default: the root), by id."""
        return self._reach(node_id or self.root, lambda e: (e.source, e.target))

    def _reach(self, start: str, ends: Callable[[Edge], tuple[str, str]]) -> list[Node]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            here = todo.pop()
            for edge in self.edges:
                frm, to = ends(edge)
                if frm == here and to not in seen:
                    seen.add(to)
                    todo.append(to)
        seen.discard(start)
        return sorted((self.nodes[i] for i in seen), key=lambda n: n.id)

    # -- renderers ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema ``nbops.lineage/1``; see docs/lineage.md)."""
        from nbops.registry.lineage.render import to_dict

        return to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_text(self) -> str:
        from nbops.registry.lineage.render import to_text

        return to_text(self)

    def to_mermaid(self) -> str:
        from nbops.registry.lineage.render import to_mermaid

        return to_mermaid(self)

    def to_dot(self) -> str:
        from nbops.registry.lineage.render import to_dot

        return to_dot(self)

    def to_svg(self) -> str:
        from nbops.registry.lineage.render import to_svg

        return to_svg(self)

    def render(self, format: str = "text") -> str:
        """One of ``text``, ``json``, ``mermaid``, ``dot``, ``svg``."""
        renderers = {"text": self.to_text, "json": self.to_json, "mermaid": self.to_mermaid,
                     "dot": self.to_dot, "svg": self.to_svg}
        if format not in renderers:
            raise UsageError(f"Unknown lineage format {format!r}.{closest(format, renderers)} "
                             f"Choose one of {', '.join(renderers)}.")
        return renderers[format]()

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_html_(self) -> str:
        # Full size, scrolled sideways when wider than the notebook: JupyterLab would otherwise
        # shrink the SVG to the output width and its text with it.
        svg = self.to_svg().replace("<svg ", '<svg style="max-width:none;height:auto" ', 1)
        return f'<div style="overflow-x:auto;max-width:100%">{svg}</div>'

    def __repr__(self) -> str:
        return (f"<LineageGraph root={self.root!r} {len(self.nodes)} nodes, "
                f"{len(self.edges)} edges, direction={self.direction}>")
