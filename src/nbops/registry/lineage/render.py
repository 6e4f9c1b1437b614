"""Renderers of a :class:`~nbops.registry.lineage.LineageGraph`: JSON, text, Mermaid, DOT, SVG.

The SVG picture needs no graphviz: nodes are put in columns by topological depth (longest path
from a node without parents), ordered within a column by the mean position of their neighbours
(a few barycenter sweeps), and joined by curved arrows. That placement (:func:`placement`) is the
only lineage layout of nbops: the sidebar and the lineage widget draw the ``layer`` and ``order``
it puts on each node of the lineage payload (:func:`nbops.registry.service.lineage_payload`).

Example:
    >>> from nbops.registry.lineage import LineageGraph, Node, Edge
    >>> g = LineageGraph(root="run:a")
    >>> g.add_node(Node("run:a", "run", "train")); g.add_node(Node("dataset:d@1", "dataset", "d@1"))
    >>> g.add_edge(Edge("dataset:d@1", "run:a", "input"))
    >>> to_mermaid(g).splitlines()[0]
    'flowchart LR'
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from nbops.registry.lineage.palette import color_of

if TYPE_CHECKING:
    from nbops.registry.lineage.graph import LineageGraph, Node

__all__ = ["SCHEMA", "layers", "placement", "to_dict", "to_dot", "to_mermaid", "to_svg",
           "to_text"]

SCHEMA = "nbops.lineage/1"

_KIND_ORDER = {"dataset": 0, "run": 1, "model": 2, "package": 3, "report": 4}


def _color(kind: str) -> str:
    return color_of(kind)


def _sorted_nodes(graph: LineageGraph) -> list[Node]:
    return sorted(graph.nodes.values(), key=lambda n: n.id)


def _sorted_edges(graph: LineageGraph) -> list[Any]:
    return sorted(graph.edges, key=lambda e: (e.source, e.target, e.relation))


# -- JSON -------------------------------------------------------------------------------------


def to_dict(graph: LineageGraph) -> dict[str, Any]:
    """The ``nbops.lineage/1`` document: root, query, nodes (by id), edges, kinds present."""
    layer = layers(graph)
    kinds = sorted({n.kind for n in graph.nodes.values()})
    return {
        "schema": SCHEMA,
        "root": graph.root,
        "direction": graph.direction,
        "depth": graph.depth,
        "truncated": graph.truncated,
        "nodes": [{**n.to_dict(), "layer": layer[n.id]} for n in _sorted_nodes(graph)],
        "edges": [e.to_dict() for e in _sorted_edges(graph)],
        "kinds": {k: {"color": _color(k)} for k in kinds},
    }


# -- text -------------------------------------------------------------------------------------


def _describe(node: Node) -> str:
    a = node.attrs
    extra = ""
    if node.kind in ("model", "package") and a.get("aliases"):
        extra = f"  @{', @'.join(a['aliases'])}"
    elif "status" in a and node.kind in ("run", "report"):
        extra = f"  {a.get('run_id', '')[:8]} {a['status']}"
    if a.get("monitor_status"):
        extra += f"  monitor={a['monitor_status']}"
    return f"{node.kind} {node.label}{extra}"


def to_text(graph: LineageGraph) -> str:
    """An indented tree from the root: ``↑`` lines are upstream, ``↓`` lines downstream."""
    incoming: dict[str, list[tuple[str, str]]] = defaultdict(list)
    outgoing: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in _sorted_edges(graph):
        incoming[e.target].append((e.source, e.relation))
        outgoing[e.source].append((e.target, e.relation))
    lines = [_describe(graph.nodes[graph.root])]
    shown: set[str] = {graph.root}

    def links(node_id: str, up: bool) -> list[tuple[str, str, bool]]:
        return [(o, r, up) for o, r in (incoming[node_id] if up else outgoing[node_id])]

    def walk(items: list[tuple[str, str, bool]], prefix: str) -> None:
        for i, (other, relation, up) in enumerate(items):
            last = i == len(items) - 1
            repeat = other in shown
            note = "  (shown above)" if repeat else ""
            lines.append(f"{prefix}{'└─' if last else '├─'}{'↑' if up else '↓'} {relation}: "
                         f"{_describe(graph.nodes[other])}{note}")
            if not repeat:
                shown.add(other)
                walk(links(other, up), prefix + ("   " if last else "│  "))

    ups, downs = incoming[graph.root], outgoing[graph.root]
    first: list[tuple[str, str, bool]] = []
    if graph.direction in ("both", "upstream"):
        first += links(graph.root, True)
    if graph.direction in ("both", "downstream"):
        first += links(graph.root, False)
    walk(first, "")
    if not ups and not downs:
        lines.append("(no lineage recorded)")
    if graph.truncated:
        lines.append("… truncated: the graph reached its node limit; query with a depth.")
    return "\n".join(lines)


# -- Mermaid and DOT --------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "#quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def to_mermaid(graph: LineageGraph) -> str:
    """A Mermaid ``flowchart LR`` (node ids n0, n1, ... in node-id order)."""
    ids = {n.id: f"n{i}" for i, n in enumerate(_sorted_nodes(graph))}
    lines = ["flowchart LR"]
    for node in _sorted_nodes(graph):
        label = f"{node.kind}<br/>{_mermaid_text(node.label)}"
        lines.append(f'  {ids[node.id]}["{label}"]')
    for e in _sorted_edges(graph):
        lines.append(f"  {ids[e.source]} -->|{_mermaid_text(e.relation)}| {ids[e.target]}")
    for kind in sorted({n.kind for n in graph.nodes.values()}):
        lines.append(f"  classDef {kind} fill:{_color(kind)},stroke:#555,color:#111")
        members = ",".join(ids[n.id] for n in _sorted_nodes(graph) if n.kind == kind)
        lines.append(f"  class {members} {kind}")
    lines.append(f"  style {ids[graph.root]} stroke-width:3px")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: LineageGraph) -> str:
    """A Graphviz ``digraph`` (left to right) for ``dot -Tsvg``."""
    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9, color="#666666"];',
    ]
    for node in _sorted_nodes(graph):
        width = ", penwidth=3" if node.id == graph.root else ""
        lines.append(f"  {_dot_text(node.id)} [label={_dot_text(node.kind + chr(10) + node.label)}"
                     f", fillcolor={_dot_text(_color(node.kind))}{width}];")
    for e in _sorted_edges(graph):
        lines.append(f"  {_dot_text(e.source)} -> {_dot_text(e.target)} "
                     f"[label={_dot_text(e.relation)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- SVG --------------------------------------------------------------------------------------

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN, LEGEND_H = 200, 46, 70, 18, 16, 26


def layers(graph: LineageGraph) -> dict[str, int]:
    """Node id → column: the longest path from a node without parents (cycles are cut); a
    node without parents then moves right, next to its nearest child, so that a dataset read
    deep in a pipeline sits beside the run that read it instead of behind other boxes."""
    preds: dict[str, set[str]] = defaultdict(set)
    succs: dict[str, set[str]] = defaultdict(set)
    for e in graph.edges:
        if e.source != e.target:
            preds[e.target].add(e.source)
            succs[e.source].add(e.target)
    indegree = {n: len(preds[n]) for n in graph.nodes}
    layer = {n: 0 for n in graph.nodes}
    ready = sorted(n for n, d in indegree.items() if d == 0)
    done: set[str] = set()
    while len(done) < len(graph.nodes):
        if not ready:  # a cycle: release the remaining node with the fewest open parents
            rest = sorted((n for n in graph.nodes if n not in done),
                          key=lambda n: (indegree[n], n))
            ready = [rest[0]]
        node = ready.pop(0)
        if node in done:
            continue
        done.add(node)
        for nxt in sorted(succs[node]):
            if nxt in done:
                continue
            layer[nxt] = max(layer[nxt], layer[node] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    for node in graph.nodes:
        children = [layer[c] for c in succs[node] if c != node]
        if not preds[node] and children:
            layer[node] = max(layer[node], min(children) - 1)
    return layer


def _order(graph: LineageGraph, layer: dict[str, int]) -> list[list[str]]:
    columns: dict[int, list[str]] = defaultdict(list)
    for node in sorted(graph.nodes.values(),
                       key=lambda n: (_KIND_ORDER.get(n.kind, 9), n.label, n.id)):
        columns[layer[node.id]].append(node.id)
    ordered = [columns[i] for i in range(max(columns, default=-1) + 1)]
    neighbours: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        neighbours[e.source].append(e.target)
        neighbours[e.target].append(e.source)
    for sweep in range(4):
        span = range(1, len(ordered)) if sweep % 2 == 0 else range(len(ordered) - 2, -1, -1)
        for i in span:
            ref = ordered[i - 1] if sweep % 2 == 0 else ordered[i + 1]
            pos = {n: k for k, n in enumerate(ref)}

            def center(node: str, pos: dict[str, int] = pos, col: list[str] = ordered[i]) -> float:
                near = [pos[m] for m in neighbours[node] if m in pos]
                return sum(near) / len(near) if near else float(col.index(node))

            ordered[i] = sorted(ordered[i], key=center)
    return ordered


def placement(graph: LineageGraph) -> dict[str, tuple[int, int]]:
    """Node id → (column, row within the column), as :func:`to_svg` draws the graph."""
    return {node: (ci, ri) for ci, column in enumerate(_order(graph, layers(graph)))
            for ri, node in enumerate(column)}


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_svg(graph: LineageGraph) -> str:
    """A standalone SVG picture (left to right; the root has a thick border)."""
    layer = layers(graph)
    columns = _order(graph, layer)
    tallest = max((len(c) for c in columns), default=1)
    height = MARGIN * 2 + LEGEND_H + tallest * BOX_H + (tallest - 1) * GAP_Y
    width = MARGIN * 2 + max(len(columns), 1) * BOX_W + max(len(columns) - 1, 0) * GAP_X
    kinds = sorted({n.kind for n in graph.nodes.values()}, key=lambda k: (_KIND_ORDER.get(k, 9), k))
    width = max(width, MARGIN * 2 + 110 * len(kinds))
    pos: dict[str, tuple[float, float]] = {}
    for ci, column in enumerate(columns):
        col_h = len(column) * BOX_H + (len(column) - 1) * GAP_Y
        top = MARGIN + LEGEND_H + (height - MARGIN * 2 - LEGEND_H - col_h) / 2
        for ri, node_id in enumerate(column):
            pos[node_id] = (MARGIN + ci * (BOX_W + GAP_X), top + ri * (BOX_H + GAP_Y))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
        'role="img">',
        f"<title>{escape('lineage of ' + graph.root)}</title>",
        '<defs><marker id="nbops-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#666"/></marker></defs>',
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    for i, kind in enumerate(kinds):  # legend
        x = MARGIN + i * 110
        out.append(f'<rect x="{x}" y="{MARGIN - 4}" width="14" height="14" rx="3" '
                   f'fill={quoteattr(_color(kind))} stroke="#555"/>')
        out.append(f'<text x="{x + 19}" y="{MARGIN + 7}" font-size="11" fill="#333">'
                   f"{escape(kind)}</text>")
    for e in _sorted_edges(graph):
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        if layer[e.target] > layer[e.source]:
            sx, sy, tx, ty = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        else:  # same column or backwards (a cycle): loop around the left side
            sx, sy, tx, ty = x1, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        bend = max(abs(tx - sx) / 2, 40)
        c1 = sx + bend if tx > sx else sx - bend
        c2 = tx - bend if tx > sx else tx - bend
        out.append(
            f'<path d="M {sx:.1f} {sy:.1f} C {c1:.1f} {sy:.1f}, {c2:.1f} {ty:.1f}, {tx:.1f} '
            f'{ty:.1f}" fill="none" stroke="#888" stroke-width="1.4" '
            f'marker-end="url(#nbops-arrow)"><title>{escape(e.relation)}</title></path>')
    for node in _sorted_nodes(graph):
        x, y = pos[node.id]
        root = node.id == graph.root
        tip = escape(f"{node.id}\n" + "\n".join(f"{k}: {v}" for k, v in node.attrs.items()))
        out.append(f"<g><title>{tip}</title>")
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="7" '
                   f'fill={quoteattr(_color(node.kind))} stroke="{"#111" if root else "#666"}" '
                   f'stroke-width="{3 if root else 1}"/>')
        out.append(f'<text x="{x + 9:.1f}" y="{y + 16:.1f}" font-size="10" fill="#555">'
                   f"{escape(node.kind)}{escape(_badge(node))}</text>")
        out.append(f'<text x="{x + 9:.1f}" y="{y + 34:.1f}" font-size="13" fill="#111">'
                   f"{escape(_clip(node.label))}</text></g>")
    out.append("</svg>")
    return "\n".join(out)


def _badge(node: Node) -> str:
    a = node.attrs
    if node.kind in ("model", "package") and a.get("aliases"):
        return "  @" + ", @".join(a["aliases"])
    if a.get("monitor_status"):
        return f"  {a['monitor_status']}"
    if node.kind in ("run", "report") and a.get("status") and a["status"] != "FINISHED":
        return f"  {a['status']}"
    return ""
